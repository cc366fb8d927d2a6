package geo_test

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/farmwatch/farmwatch/geo"
	"github.com/farmwatch/farmwatch/geo/geotest"
)

var testNetworks = []geotest.Network{
	{Prefix: "81.2.69.0/24", Country: "GB", CountryName: "United Kingdom", Region: "England", City: "London",
		Lat: 51.5142, Lon: -0.0931, AccuracyKM: 10, TimeZone: "Europe/London", ASN: 20712, Org: "Andrews & Arnold Ltd"},
	{Prefix: "67.198.0.0/16", Country: "US", CountryName: "United States", Region: "Texas", City: "Austin",
		Lat: 30.2672, Lon: -97.7431, AccuracyKM: 20, TimeZone: "America/Chicago", ASN: 11427, Org: "Charter Communications Inc"},
	{Prefix: "2a02:c7f::/32", Country: "GB", CountryName: "United Kingdom", Region: "Scotland", City: "Edinburgh",
		Lat: 55.9533, Lon: -3.1883, AccuracyKM: 50, TimeZone: "Europe/London", ASN: 5607, Org: "Sky UK Limited"},
	// DB-IP style: coordinates without radius or time zone, and a country without a name.
	{Prefix: "175.45.176.0/22", Country: "KP", Lat: 39.0339, Lon: 125.7543, ASN: 131279, Org: "Ryugyong-dong"},
	// Only an ASN record: the city half knows nothing.
	{Prefix: "3.5.140.0/22", ASN: 16509, Org: "Amazon.com, Inc."},
	{Prefix: "185.159.157.0/24", Country: "CH", CountryName: "Switzerland", Lat: 47.1449, Lon: 8.1551, AccuracyKM: 200,
		TimeZone: "Europe/Zurich", ASN: 62371, Org: "Proton AG"},
	// Data placed on a private range must never be reported: special ranges are decided before the lookup.
	{Prefix: "10.0.0.0/8", Country: "US", City: "Nowhere", ASN: 64512, Org: "private"},
}

func openTestResolver(t testing.TB, opts geo.Options) *geo.Resolver {
	t.Helper()
	city, asn, err := geotest.WriteDatabases(t.TempDir(), testNetworks)
	if err != nil {
		t.Fatal(err)
	}
	opts.CityPath, opts.ASNPath = city, asn
	r, err := geo.OpenWithOptions(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func TestLookup(t *testing.T) {
	r := openTestResolver(t, geo.Options{})
	tests := []struct {
		ip   string
		want geo.Location
	}{
		{"81.2.69.160", geo.Location{Country: "GB", CountryName: "United Kingdom", Region: "England", City: "London",
			Latitude: 51.5142, Longitude: -0.0931, HasCoords: true, AccuracyKM: 10, TimeZone: "Europe/London",
			ASN: 20712, ASOrg: "Andrews & Arnold Ltd", Geolocatable: true}},
		{"2a02:c7f:1234::1", geo.Location{Country: "GB", CountryName: "United Kingdom", Region: "Scotland", City: "Edinburgh",
			Latitude: 55.9533, Longitude: -3.1883, HasCoords: true, AccuracyKM: 50, TimeZone: "Europe/London",
			ASN: 5607, ASOrg: "Sky UK Limited", Geolocatable: true}},
		// IPv4-mapped and NAT64 forms are looked up as the IPv4 address they carry.
		{"::ffff:67.198.10.20", geo.Location{Country: "US", CountryName: "United States", Region: "Texas", City: "Austin",
			Latitude: 30.2672, Longitude: -97.7431, HasCoords: true, AccuracyKM: 20, TimeZone: "America/Chicago",
			ASN: 11427, ASOrg: "Charter Communications Inc", Geolocatable: true}},
		{"64:ff9b::67.198.10.20", geo.Location{Country: "US", CountryName: "United States", Region: "Texas", City: "Austin",
			Latitude: 30.2672, Longitude: -97.7431, HasCoords: true, AccuracyKM: 20, TimeZone: "America/Chicago",
			ASN: 11427, ASOrg: "Charter Communications Inc", Geolocatable: true}},
		// No radius and no zone in the record: country radius and a zone from the coordinates.
		{"175.45.177.1", geo.Location{Country: "KP", CountryName: "North Korea", Latitude: 39.0339, Longitude: 125.7543,
			HasCoords: true, AccuracyKM: geo.CountryAccuracyKM, AccuracyAssumed: true, TimeZone: "Asia/Pyongyang", ASN: 131279,
			ASOrg: "Ryugyong-dong", Geolocatable: true}},
		{"3.5.140.9", geo.Location{ASN: 16509, ASOrg: "Amazon.com, Inc.", Anonymizer: geo.AnonymizerHosting,
			Provider: "Amazon Web Services"}},
		{"185.159.157.13", geo.Location{Country: "CH", CountryName: "Switzerland", Latitude: 47.1449, Longitude: 8.1551,
			HasCoords: true, AccuracyKM: 200, TimeZone: "Europe/Zurich", ASN: 62371, ASOrg: "Proton AG",
			Geolocatable: true, Anonymizer: geo.AnonymizerVPN, Provider: "Proton VPN"}},
		{"8.8.8.8", geo.Location{}},         // public, absent from both databases
		{"2001:4860::8888", geo.Location{}}, // IPv6, absent
		{"10.1.2.3", geo.Location{Range: geo.RangePrivate}},
	}
	for _, tt := range tests {
		t.Run(tt.ip, func(t *testing.T) {
			ip := netip.MustParseAddr(tt.ip)
			tt.want.IP = ip
			for range 2 { // the second answer comes from the cache
				if got := r.Lookup(ip); got != tt.want {
					t.Errorf("Lookup(%s)\n got %+v\nwant %+v", tt.ip, got, tt.want)
				}
			}
		})
	}
}

func TestClassify(t *testing.T) {
	tests := []struct{ ip, want string }{
		{"10.0.0.1", geo.RangePrivate},
		{"172.15.255.255", ""},
		{"172.16.0.1", geo.RangePrivate},
		{"172.31.255.255", geo.RangePrivate},
		{"172.32.0.1", ""},
		{"192.168.1.1", geo.RangePrivate},
		{"100.63.255.255", ""},
		{"100.64.0.0", geo.RangeCGNAT},
		{"100.127.255.255", geo.RangeCGNAT},
		{"100.128.0.0", ""},
		{"127.0.0.1", geo.RangeLoopback},
		{"169.254.10.1", geo.RangeLinkLocal},
		{"0.0.0.0", geo.RangeUnspecified},
		{"0.1.2.3", geo.RangeThisNetwork},
		{"192.0.0.9", geo.RangeProtocol},
		{"192.0.2.1", geo.RangeDocumentation},
		{"198.51.100.7", geo.RangeDocumentation},
		{"203.0.113.200", geo.RangeDocumentation},
		{"198.18.0.1", geo.RangeBenchmarking},
		{"198.19.255.255", geo.RangeBenchmarking},
		{"198.20.0.1", ""},
		{"224.0.0.251", geo.RangeMulticast},
		{"239.255.255.250", geo.RangeMulticast},
		{"240.0.0.1", geo.RangeReserved},
		{"255.255.255.255", geo.RangeBroadcast},
		{"8.8.8.8", ""},
		{"::", geo.RangeUnspecified},
		{"::1", geo.RangeLoopback},
		{"::ffff:10.0.0.1", geo.RangePrivate},
		{"::ffff:100.64.1.1", geo.RangeCGNAT},
		{"64:ff9b::10.0.0.1", geo.RangePrivate},
		{"64:ff9b:1::1", geo.RangePrivate},
		{"2002:a00:1::1", geo.RangePrivate}, // 6to4 of 10.0.0.1
		{"fe80::1%eth0", geo.RangeLinkLocal},
		{"fd12:3456::1", geo.RangePrivate},
		{"ff02::1", geo.RangeMulticast},
		{"2001:db8::1", geo.RangeDocumentation},
		{"3fff::1", geo.RangeDocumentation},
		{"2001:0:4136:e378::1", geo.RangeTeredo},
		{"2001:2::1", geo.RangeBenchmarking},
		{"2001:10::1", geo.RangeProtocol},
		{"100::1", geo.RangeReserved},
		{"2606:4700::1111", ""},
	}
	for _, tt := range tests {
		if got := geo.Classify(netip.MustParseAddr(tt.ip)); got != tt.want {
			t.Errorf("Classify(%s) = %q, want %q", tt.ip, got, tt.want)
		}
	}
	if got := geo.Classify(netip.Addr{}); got != geo.RangeInvalid {
		t.Errorf("Classify(zero Addr) = %q, want %q", got, geo.RangeInvalid)
	}
}

func TestLookupSpecialRangeNotGeolocated(t *testing.T) {
	r := openTestResolver(t, geo.Options{})
	for _, s := range []string{"10.9.9.9", "100.64.3.3", "127.0.0.1", "::1", "fe80::1", "192.0.2.5"} {
		loc := r.Lookup(netip.MustParseAddr(s))
		if loc.Range == "" || loc.Geolocatable || loc.Country != "" || loc.ASN != 0 {
			t.Errorf("Lookup(%s) = %+v, want a flagged range with no data", s, loc)
		}
	}
}

func TestOpenErrorsNameTheFile(t *testing.T) {
	dir := t.TempDir()
	city, asn, err := geotest.WriteDatabases(dir, testNetworks)
	if err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "absent", "GeoLite2-City.mmdb")
	corrupt := filepath.Join(dir, "corrupt.mmdb")
	if err := os.WriteFile(corrupt, []byte("this is not a MaxMind database"), 0o600); err != nil {
		t.Fatal(err)
	}
	truncated := filepath.Join(dir, "truncated.mmdb")
	data, err := os.ReadFile(city)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(truncated, data[:len(data)/2], 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, city, asn, want string
	}{
		{"missing city", missing, asn, missing},
		{"missing asn", city, missing, missing},
		{"corrupt city", corrupt, asn, corrupt},
		{"corrupt asn", city, corrupt, corrupt},
		{"truncated city", truncated, "", truncated},
		{"swapped", asn, city, asn},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := geo.Open(tt.city, tt.asn)
			if err == nil {
				r.Close()
				t.Fatalf("Open(%q, %q) succeeded, want an error naming %s", tt.city, tt.asn, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not name %s", err, tt.want)
			}
		})
	}
}

func TestOpenHalves(t *testing.T) {
	city, asn, err := geotest.WriteDatabases(t.TempDir(), testNetworks)
	if err != nil {
		t.Fatal(err)
	}
	ip := netip.MustParseAddr("81.2.69.160")
	onlyASN, err := geo.Open("", asn)
	if err != nil {
		t.Fatal(err)
	}
	defer onlyASN.Close()
	if got := onlyASN.Lookup(ip); got.ASN != 20712 || got.Country != "" || got.Geolocatable {
		t.Errorf("ASN-only Lookup = %+v, want ASN 20712 and no place", got)
	}
	onlyCity, err := geo.Open(city, "")
	if err != nil {
		t.Fatal(err)
	}
	defer onlyCity.Close()
	if got := onlyCity.Lookup(ip); got.ASN != 0 || got.Country != "GB" || !got.Geolocatable {
		t.Errorf("city-only Lookup = %+v, want GB and no ASN", got)
	}
	none, err := geo.Open("", "")
	if err != nil {
		t.Fatal(err)
	}
	if got := none.Lookup(ip); got.Geolocatable || got.IP != ip {
		t.Errorf("empty resolver Lookup = %+v", got)
	}
	if err := none.Close(); err != nil {
		t.Error(err)
	}
}

func TestLookupConcurrentWithSmallCache(t *testing.T) {
	r := openTestResolver(t, geo.Options{CacheSize: 8})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 2000 {
				ip := netip.AddrFrom4([4]byte{67, 198, byte(g), byte(i)})
				if loc := r.Lookup(ip); loc.City != "Austin" || loc.IP != ip {
					t.Errorf("Lookup(%s) = %+v", ip, loc)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestAnonymizersFile(t *testing.T) {
	rows := geo.Anonymizers()
	if len(rows) < 50 {
		t.Fatalf("anonymizer file has %d rows, want the major clouds and VPNs", len(rows))
	}
	byASN := map[uint32]geo.Anonymizer{}
	for _, a := range rows {
		byASN[a.ASN] = a
	}
	for asn, kind := range map[uint32]string{16509: "hosting", 8075: "hosting", 396982: "hosting", 14061: "hosting",
		62371: "vpn", 216025: "vpn", 207137: "vpn"} {
		if byASN[asn].Kind != kind {
			t.Errorf("AS%d kind = %q, want %q", asn, byASN[asn].Kind, kind)
		}
	}
}
