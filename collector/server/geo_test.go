package server_test

import (
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/farmwatch/farmwatch/collector/analysis"
	"github.com/farmwatch/farmwatch/collector/server"
	"github.com/farmwatch/farmwatch/geo/geotest"
	"github.com/farmwatch/farmwatch/internal/testcollector"
)

func captureLogs(t *testing.T) *lockedBuffer {
	t.Helper()
	logs := &lockedBuffer{}
	saved := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(logs, nil)))
	t.Cleanup(func() { slog.SetDefault(saved) })
	return logs
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if ok() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

// Every rule named as silent without geo is a registered rule.
func TestGeoRulesAreRegistered(t *testing.T) {
	for _, id := range server.GeoRules {
		if _, ok := analysis.LookupRule(id); !ok {
			t.Errorf("%s is not a registered rule", id)
		}
	}
}

// A collector without geo databases says so loudly at start, naming the rules that cannot fire.
func TestNoGeoWarnsLoudly(t *testing.T) {
	logs := captureLogs(t)
	testcollector.Start(t, func(c *server.Config) { c.GeoCity, c.GeoASN = "", "" })
	out := logs.String()
	if !strings.Contains(out, "level=WARN") || !strings.Contains(out, "NO GEO DATABASES") {
		t.Fatalf("no loud warning without geo:\n%s", out)
	}
	for _, id := range []string{analysis.RuleCountryMismatch, analysis.RuleFarFromClaimed, analysis.RuleHighRiskPeer} {
		if !strings.Contains(out, id) {
			t.Errorf("the warning does not name %s:\n%s", id, out)
		}
	}
}

// A database replaced on disk is reloaded without a restart, while lookups run.
func TestGeoReloadOnFileChange(t *testing.T) {
	logs := captureLogs(t)
	dir := t.TempDir()
	austin := []geotest.Network{{Prefix: "67.198.0.0/16", Country: "US", City: "Austin", Lat: 30.2672, Lon: -97.7431, ASN: 11427, Org: "Charter"}}
	city, asn, err := geotest.WriteDatabases(dir, austin)
	if err != nil {
		t.Fatal(err)
	}
	c := testcollector.Start(t, func(cfg *server.Config) {
		cfg.GeoCity, cfg.GeoASN, cfg.GeoCheckInterval = city, asn, 20*time.Millisecond
	})
	ip := netip.MustParseAddr("67.198.1.2")
	if got := server.Locate(c.Geo(), ip).GetCity(); got != "Austin" {
		t.Fatalf("before: %q", got)
	}
	var stop sync.WaitGroup
	done := make(chan struct{})
	stop.Add(1)
	go func() {
		defer stop.Done()
		for i := 0; ; i++ {
			select {
			case <-done:
				return
			default:
			}
			server.Locate(c.Geo(), netip.AddrFrom4([4]byte{67, 198, 7, byte(i)}))
		}
	}()
	dallas := []geotest.Network{{Prefix: "67.198.0.0/16", Country: "US", City: "Dallas", Lat: 32.7767, Lon: -96.7970, ASN: 7018, Org: "AT&T"}}
	if _, _, err := geotest.WriteDatabases(dir, dallas); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the replaced database to be used", func() bool { return server.Locate(c.Geo(), ip).GetCity() == "Dallas" })
	close(done)
	stop.Wait()
	if !strings.Contains(logs.String(), "geo database reloaded") {
		t.Errorf("the reload was not logged:\n%s", logs.String())
	}
}

// Data older than 45 days draws a warning at start and again a day later, on the collector's clock.
func TestGeoAgeWarning(t *testing.T) {
	logs := captureLogs(t)
	built := time.Date(2026, 6, 5, 13, 0, 0, 0, time.UTC)
	city, asn, err := geotest.Write(t.TempDir(), geotest.Options{Built: built}, geotest.DemoNetworks())
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	now := built.Add(40 * 24 * time.Hour)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	testcollector.Start(t, func(cfg *server.Config) {
		cfg.GeoCity, cfg.GeoASN, cfg.GeoCheckInterval, cfg.Now = city, asn, 10*time.Millisecond, clock
	})
	const warning = "older than 45 days"
	time.Sleep(50 * time.Millisecond)
	if strings.Contains(logs.String(), warning) {
		t.Fatalf("40-day-old data drew the age warning:\n%s", logs.String())
	}
	advance(24 * time.Hour) // 41 days: the daily check runs, still young
	time.Sleep(50 * time.Millisecond)
	if strings.Contains(logs.String(), warning) {
		t.Fatalf("41-day-old data drew the age warning:\n%s", logs.String())
	}
	// One warning per database (City and ASN) at each daily check.
	advance(5 * 24 * time.Hour) // 46 days
	waitFor(t, "the age warning", func() bool { return strings.Count(logs.String(), warning) == 2 })
	if !strings.Contains(logs.String(), "age_days=46") {
		t.Errorf("the warning does not give the age:\n%s", logs.String())
	}
	time.Sleep(50 * time.Millisecond)
	if n := strings.Count(logs.String(), warning); n != 2 {
		t.Fatalf("%d warnings within the same day, want 2", n)
	}
	advance(24 * time.Hour) // 47 days: the next day's check warns again
	waitFor(t, "the next day's age warning", func() bool { return strings.Count(logs.String(), warning) == 4 })
}
