package geo_test

import (
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/farmwatch/farmwatch/geo"
	"github.com/farmwatch/farmwatch/geo/geotest"
)

// Reload swaps in a rewritten database while lookups run on other goroutines: every answer is either the
// old city or the new one, never a torn or empty record, and after Reload only the new one is seen (the
// cache of the old generation is gone with it). Run with -race.
func TestReloadUnderConcurrentLookups(t *testing.T) {
	dir := t.TempDir()
	austin := []geotest.Network{{Prefix: "67.198.0.0/16", Country: "US", City: "Austin", Lat: 30.2672, Lon: -97.7431, ASN: 11427, Org: "Charter"}}
	dallas := []geotest.Network{{Prefix: "67.198.0.0/16", Country: "US", City: "Dallas", Lat: 32.7767, Lon: -96.7970, ASN: 7018, Org: "AT&T"}}
	city, asn, err := geotest.WriteDatabases(dir, austin)
	if err != nil {
		t.Fatal(err)
	}
	r, err := geo.Open(city, asn)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ip := netip.MustParseAddr("67.198.1.2")
	if got := r.Lookup(ip).City; got != "Austin" {
		t.Fatalf("before reload: %q", got)
	}
	if r.Changed() {
		t.Error("Changed before any rewrite")
	}

	var stop atomic.Bool
	var wg sync.WaitGroup
	var bad atomic.Value
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; !stop.Load(); i++ {
				// Other addresses in the prefix miss the cache, so the databases themselves are read.
				l := r.Lookup(netip.AddrFrom4([4]byte{67, 198, byte(g), byte(i)}))
				if !(l.City == "Austin" && l.ASN == 11427) && !(l.City == "Dallas" && l.ASN == 7018) &&
					!(l.City == "Austin" && l.ASN == 7018) && !(l.City == "Dallas" && l.ASN == 11427) {
					bad.Store(l)
				}
			}
		}(g)
	}
	for i := 0; i < 20; i++ {
		nets := dallas
		if i%2 == 1 {
			nets = austin
		}
		if _, _, err := geotest.WriteDatabases(dir, nets); err != nil {
			t.Fatal(err)
		}
		if !r.Changed() {
			t.Errorf("round %d: rewritten files not seen as changed", i)
		}
		if err := r.Reload(); err != nil {
			t.Fatal(err)
		}
		if r.Changed() {
			t.Errorf("round %d: Changed right after Reload", i)
		}
		want := nets[0].City
		if got := r.Lookup(ip); got.City != want || got.ASN != nets[0].ASN {
			t.Errorf("round %d: after reload %s is %s AS%d, want %s", i, ip, got.City, got.ASN, want)
		}
	}
	stop.Store(true)
	wg.Wait()
	if l := bad.Load(); l != nil {
		t.Errorf("a lookup during reloads gave %+v", l)
	}
}

// A reload that fails (the new file is not a database) keeps the databases in use.
func TestReloadFailureKeepsOldDatabases(t *testing.T) {
	dir := t.TempDir()
	city, asn, err := geotest.WriteDatabases(dir, testNetworks)
	if err != nil {
		t.Fatal(err)
	}
	r, err := geo.Open(city, asn)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := writeFileAtomic(city, []byte("not a database")); err != nil {
		t.Fatal(err)
	}
	if err := r.Reload(); err == nil {
		t.Fatal("Reload accepted a broken file")
	}
	if got := r.Lookup(netip.MustParseAddr("67.198.1.2")).City; got != "Austin" {
		t.Errorf("after a failed reload: %q", got)
	}
}

// Age comes from the build epoch in the metadata, and Stale turns true past MaxAge, on any clock.
func TestDatabaseAge(t *testing.T) {
	built := time.Date(2026, 6, 5, 13, 0, 0, 0, time.UTC)
	city, asn, err := geotest.Write(t.TempDir(), geotest.Options{Built: built}, testNetworks)
	if err != nil {
		t.Fatal(err)
	}
	r, err := geo.Open(city, asn)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for _, tt := range []struct {
		now   time.Time
		stale bool
	}{
		{built.Add(24 * time.Hour), false},
		{built.Add(geo.MaxAge), false},
		{built.Add(geo.MaxAge + time.Hour), true},
		{time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), true},
	} {
		for _, d := range r.Databases() {
			if !d.Built.Equal(built) {
				t.Errorf("%s built %s, want %s", d.Path, d.Built, built)
			}
			if got := d.Stale(tt.now); got != tt.stale {
				t.Errorf("%s at %s: stale %v, want %v (age %s)", d.Role, tt.now, got, tt.stale, d.Age(tt.now))
			}
		}
	}
}

// DB-IP gives no accuracy radius: a lookup says the radius it uses is assumed, by granularity, and the
// distance rule still subtracts it.
func TestMissingRadiusIsAssumed(t *testing.T) {
	city, asn, err := geotest.WriteDatabases(t.TempDir(), []geotest.Network{
		{Prefix: "67.198.0.0/16", Country: "US", City: "Austin", Lat: 30.2672, Lon: -97.7431},
		{Prefix: "175.45.176.0/22", Country: "KP", Lat: 39.0339, Lon: 125.7543},
		{Prefix: "81.2.69.0/24", Country: "GB", City: "London", Lat: 51.5142, Lon: -0.0931, AccuracyKM: 10},
	})
	if err != nil {
		t.Fatal(err)
	}
	r, err := geo.Open(city, asn)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for _, tt := range []struct {
		ip      string
		km      float64
		assumed bool
	}{
		{"67.198.1.2", geo.DefaultAccuracyKM, true},
		{"175.45.176.9", geo.CountryAccuracyKM, true},
		{"81.2.69.1", 10, false},
	} {
		l := r.Lookup(netip.MustParseAddr(tt.ip))
		if l.AccuracyKM != tt.km || l.AccuracyAssumed != tt.assumed {
			t.Errorf("%s: radius %v assumed %v, want %v %v", tt.ip, l.AccuracyKM, l.AccuracyAssumed, tt.km, tt.assumed)
		}
	}
	// Austin to San Antonio is about 118 km: beyond a 50 km threshold, but not once the assumed 100 km
	// radius is subtracted.
	home := geo.Place{Latitude: 29.4241, Longitude: -98.4936}
	if far, d, _ := geo.FarFromHome(home, r.Lookup(netip.MustParseAddr("67.198.1.2")), 50); far {
		t.Errorf("Austin %0.f km from San Antonio counted as far despite the assumed radius", d)
	}
}

// writeFileAtomic replaces path the way geoipupdate does, never truncating a file a reader has mapped.
func writeFileAtomic(path string, b []byte) error {
	tmp := path + ".new"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
