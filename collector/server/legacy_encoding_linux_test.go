package server_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/farmwatch/farmwatch/agent/collect"
	"github.com/farmwatch/farmwatch/agent/reporter"
	"github.com/farmwatch/farmwatch/agent/spool"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// TestLegacyEncodingsDelivered runs the agent's real cycle (every
// collector, the spool, delivery over mutual TLS) on the fixture root whose
// hostname, neighbour-table interface and USB names, and captured nmcli
// scan, hold Latin-1 and GBK bytes. Before the agent sanitized its
// strings, the spool refused to marshal such a report and the agent sent
// nothing at all; now it is delivered with every byte kept as \xNN.
func TestLegacyEncodingsDelivered(t *testing.T) {
	c, conn, id := enrolled(t, nil)
	root, err := filepath.Abs(filepath.Join("..", "..", "agent", "collect", "testdata", "linux", "legacy-encodings"))
	if err != nil {
		t.Fatal(err)
	}
	nmcli, err := os.ReadFile(filepath.Join(root, "..", "commands", "nmcli-wifi-list-legacy-ssids.txt"))
	if err != nil {
		t.Fatal(err)
	}
	env := &collect.Env{Root: root, Now: time.Now, Getenv: func(string) string { return "" },
		Command: func(_ context.Context, name string, args ...string) ([]byte, error) {
			if name == "nmcli" {
				return nmcli, nil
			}
			return nil, fmt.Errorf("%s: not in this fixture", name)
		}}
	sp, err := spool.Open(filepath.Join(t.TempDir(), "spool.db"), 100)
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	r := &reporter.Reporter{Spool: sp, Conn: conn, Env: env, Interval: time.Minute}
	if err := r.Start(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := r.Cycle(ctx); err != nil {
		t.Fatalf("agent cycle: %v", err)
	}
	rs, err := c.Admin.ListReports(ctx, &pb.ListReportsRequest{DeviceId: id.DeviceID})
	if err != nil || len(rs.GetReports()) != 1 {
		t.Fatalf("stored: %v %v", rs, err)
	}
	got := rs.GetReports()[0].GetReport()
	if h := got.GetHost().GetHostname(); h != `K\xf6ln-laptop` {
		t.Errorf("hostname %q", h)
	}
	if s := got.GetNetwork().GetWifi().GetSsid(); s != `Caf\xe9` {
		t.Errorf("current SSID %q", s)
	}
	var nearby []string
	for _, b := range got.GetNetwork().GetWifi().GetNearby() {
		nearby = append(nearby, b.GetSsid())
	}
	if !slices.Contains(nearby, `\xd6\xd0\xce\xc4\xcd\xf8\xc2\xe7`) || !slices.Contains(nearby, `K\xf6ln Hbf`) {
		t.Errorf("nearby SSIDs %q", nearby)
	}
	var usb []string
	for _, u := range got.GetPeripherals().GetUsb() {
		usb = append(usb, u.GetManufacturer()+"/"+u.GetProduct())
	}
	if !slices.Contains(usb, `K\xf6ln Elektronik/USB Serial`) || !strings.HasPrefix(strings.Join(usb, " "), `Caf\xe9 Ger\xe4te/\xd6\xd0\xce`) {
		t.Errorf("USB names %q", usb)
	}
	if ns := got.GetNetwork().GetNeighbors(); len(ns) == 0 || ns[0].GetInterface() != `caf\xe90` {
		t.Errorf("neighbours %v", ns)
	}
}
