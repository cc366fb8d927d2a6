package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/farmwatch/farmwatch/collector/store"
	"github.com/farmwatch/farmwatch/geo/geotest"
	"github.com/farmwatch/farmwatch/sim"
)

// TestMain lets the test binary play the collector child, as the bench
// binary re-executes itself.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "collector" {
		exitOn(runCollectorChild(os.Args[2:]))
		return
	}
	os.Exit(m.Run())
}

// TestIngestRunPlacesDevicesThroughProxyProtocol runs the bench's ingest
// measurement on a small fleet and checks that every device's reports were
// stored at the public IP its PROXY header named, and that every call was
// acknowledged.
func TestIngestRunPlacesDevicesThroughProxyProtocol(t *testing.T) {
	dir := t.TempDir()
	city, asn, err := geotest.WriteDatabases(dir, geotest.DemoNetworks())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	fleet := sim.Plan(24, 1)
	o := options{concurrency: 8, warmup: 200 * time.Millisecond, duration: time.Second}
	data := filepath.Join(dir, "collector")
	res, err := benchCollector(ctx, data, city, asn, fleet, templates(fleet), o, "", "", "")
	if err != nil {
		t.Fatal(err)
	}
	if res.stats.calls == 0 {
		t.Fatal("no report call completed in the measured window")
	}
	t.Logf("%d calls in the window, %.0f reports/s", res.stats.calls, res.stats.perSecond())

	st, err := store.Open(data, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	err = st.View(func(tx *store.Tx) error {
		for _, d := range fleet.Devices {
			dev, err := tx.Device(d.ID())
			if err != nil {
				return err
			}
			if dev.GetLastPublicIp() != d.PublicIP.String() {
				t.Errorf("device %s stored at %s, its PROXY header named %s", d.ID(), dev.GetLastPublicIp(), d.PublicIP)
			}
			if dev.GetReports() < 2 {
				t.Errorf("device %s: %d reports stored", d.ID(), dev.GetReports())
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestIngestRunWithDeadOutputs runs the ingest measurement with the bench's
// refused and hung webhooks: the collector takes the outputs file, every
// call is acknowledged, and each output ends with events in the log that
// it could not deliver.
func TestIngestRunWithDeadOutputs(t *testing.T) {
	dir := t.TempDir()
	city, asn, err := geotest.WriteDatabases(dir, geotest.DemoNetworks())
	if err != nil {
		t.Fatal(err)
	}
	refused, err := refusedAddr()
	if err != nil {
		t.Fatal(err)
	}
	hung, err := newHungListener()
	if err != nil {
		t.Fatal(err)
	}
	defer hung.close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	for _, d := range []struct{ name, addr string }{{"refused", refused}, {"hung", hung.addr()}} {
		file, err := writeDeadOutputs(dir, d.name, d.addr)
		if err != nil {
			t.Fatal(err)
		}
		fleet := sim.Plan(24, 1)
		o := options{concurrency: 8, warmup: 200 * time.Millisecond, duration: time.Second}
		res, err := benchCollector(ctx, filepath.Join(dir, d.name), city, asn, fleet, templates(fleet), o, "", "", file)
		fleet.Close()
		if err != nil {
			t.Fatalf("%s: %v", d.name, err)
		}
		if res.stats.calls == 0 {
			t.Fatalf("%s: no report call completed in the measured window", d.name)
		}
		if len(res.sinks) != 1 || res.sinks[0].GetName() != "dead-"+d.name {
			t.Fatalf("%s: outputs %v, want the one dead webhook", d.name, res.sinks)
		}
		s := res.sinks[0]
		if s.GetLastEventId() == 0 || s.GetCursor() != 0 {
			t.Errorf("%s: %d events in the log, cursor %d: want events, none delivered", d.name, s.GetLastEventId(), s.GetCursor())
		}
		// A refused connection fails at once; the hung receiver's first
		// attempt is still waiting out its 10 s timeout.
		if d.name == "refused" && s.GetLastError() == "" {
			t.Errorf("refused: no delivery error recorded")
		}
	}
}
