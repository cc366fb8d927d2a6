package geo_test

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/farmwatch/farmwatch/geo"
	"github.com/farmwatch/farmwatch/geo/geotest"
)

// benchResolver opens the real databases when `make geodata` has run, so the numbers reflect a full-size
// tree, and otherwise a synthetic City+ASN pair of 50,000 networks.
func benchResolver(b *testing.B, cacheSize int) (*geo.Resolver, string) {
	b.Helper()
	if city, asn, ok := realDataPaths(); ok {
		r, err := geo.OpenWithOptions(geo.Options{CityPath: city, ASNPath: asn, CacheSize: cacheSize})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { r.Close() })
		return r, "real"
	}
	rng := rand.New(rand.NewPCG(1, 2))
	nets := make([]geotest.Network, 0, 50000)
	for i := range cap(nets) {
		a := netip.AddrFrom4([4]byte{byte(1 + rng.IntN(222)), byte(rng.IntN(256)), byte(rng.IntN(256)), 0})
		nets = append(nets, geotest.Network{Prefix: netip.PrefixFrom(a, 24).String(), Country: "US", Region: "Texas",
			City: fmt.Sprintf("City %d", i%5000), Lat: 30 + rng.Float64(), Lon: -97 - rng.Float64(), AccuracyKM: 20,
			TimeZone: "America/Chicago", ASN: uint32(1 + i%3000), Org: fmt.Sprintf("Org %d", i%3000)})
	}
	city, asn, err := geotest.WriteDatabases(b.TempDir(), nets)
	if err != nil {
		b.Fatal(err)
	}
	r, err := geo.OpenWithOptions(geo.Options{CityPath: city, ASNPath: asn, CacheSize: cacheSize})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { r.Close() })
	return r, "synthetic"
}

// publicAddrs returns n pseudo-random public addresses, one in eight of them IPv6.
func publicAddrs(n int) []netip.Addr {
	rng := rand.New(rand.NewPCG(3, 4))
	out := make([]netip.Addr, 0, n)
	for len(out) < n {
		var ip netip.Addr
		if rng.IntN(8) == 0 {
			var b [16]byte
			b[0], b[1] = 0x2a, byte(rng.IntN(16))
			for i := 2; i < 16; i++ {
				b[i] = byte(rng.IntN(256))
			}
			ip = netip.AddrFrom16(b)
		} else {
			ip = netip.AddrFrom4([4]byte{byte(rng.IntN(256)), byte(rng.IntN(256)), byte(rng.IntN(256)), byte(rng.IntN(256))})
		}
		if geo.Classify(ip) == "" {
			out = append(out, ip)
		}
	}
	return out
}

func reportRate(b *testing.B, data string) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lookups/s")
	b.Logf("%s databases", data)
}

// BenchmarkLookupUncached is City+ASN per lookup with the cache off: the cost of every first sighting.
func BenchmarkLookupUncached(b *testing.B) {
	r, data := benchResolver(b, -1)
	ips := publicAddrs(1 << 16)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		r.Lookup(ips[i&(len(ips)-1)])
	}
	reportRate(b, data)
}

// BenchmarkLookupColdCache cycles a million addresses through the default cache, so nearly every lookup
// misses and also pays for the insert and eviction.
func BenchmarkLookupColdCache(b *testing.B) {
	r, data := benchResolver(b, 0)
	ips := publicAddrs(1 << 20)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		r.Lookup(ips[i&(len(ips)-1)])
	}
	reportRate(b, data)
}

// BenchmarkLookupWarmCache repeats a working set that fits the cache, as a collector sees the same fleet.
func BenchmarkLookupWarmCache(b *testing.B) {
	r, data := benchResolver(b, 0)
	ips := publicAddrs(1 << 12)
	for _, ip := range ips {
		r.Lookup(ip)
	}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		r.Lookup(ips[i&(len(ips)-1)])
	}
	reportRate(b, data)
}

func BenchmarkLookupWarmCacheParallel(b *testing.B) {
	r, data := benchResolver(b, 0)
	ips := publicAddrs(1 << 12)
	for _, ip := range ips {
		r.Lookup(ip)
	}
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := rand.IntN(len(ips))
		for pb.Next() {
			r.Lookup(ips[i&(len(ips)-1)])
			i++
		}
	})
	reportRate(b, data)
}
