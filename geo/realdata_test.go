package geo_test

import (
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/farmwatch/farmwatch/geo"
)

// realDataPaths finds the databases `make geodata` builds, or those in the folder FARMWATCH_GEODATA names
// (for example one kept fresh by geoipupdate with MaxMind's GeoLite2 files).
func realDataPaths() (city, asn string, ok bool) {
	dir := os.Getenv("FARMWATCH_GEODATA")
	if dir == "" {
		dir = filepath.Join("..", "data", "geo")
	}
	for _, names := range [][2]string{{"dbip-city-lite.mmdb", "dbip-asn-lite.mmdb"}, {"GeoLite2-City.mmdb", "GeoLite2-ASN.mmdb"}} {
		city, asn = filepath.Join(dir, names[0]), filepath.Join(dir, names[1])
		if exists(city) && exists(asn) {
			return city, asn, true
		}
	}
	return "", "", false
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// TestRealData checks published facts against the full databases.
func TestRealData(t *testing.T) {
	city, asn, ok := realDataPaths()
	if !ok {
		t.Skip("no data/geo/dbip-{city,asn}-lite.mmdb: run `make geodata` (or set FARMWATCH_GEODATA) to check the real databases")
	}
	r, err := geo.Open(city, asn)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()

	// 175.45.176.0/22 is Star Joint Venture's block, North Korea's allocation from APNIC. DB-IP places
	// 175.45.178.0/24 in Milan (June 2026), so only its AS is checked.
	for _, s := range []string{"175.45.176.1", "175.45.177.77", "175.45.179.254"} {
		loc := r.Lookup(netip.MustParseAddr(s))
		if loc.Country != "KP" || loc.CountryName != "North Korea" || loc.TimeZone != "Asia/Pyongyang" {
			t.Errorf("%s = %+v, want North Korea in Asia/Pyongyang", s, loc)
		}
	}
	for _, s := range []string{"175.45.176.0", "175.45.178.200", "175.45.179.255"} {
		if loc := r.Lookup(netip.MustParseAddr(s)); loc.ASN != 131279 {
			t.Errorf("%s: ASN %d (%s), want 131279 Star Joint Venture", s, loc.ASN, loc.ASOrg)
		}
	}

	// Provider networks announced under their operators' own AS numbers.
	asns := []struct {
		ip  string
		asn uint32
	}{
		{"8.8.8.8", 15169},              // Google Public DNS
		{"2001:4860:4860::8888", 15169}, // Google Public DNS over IPv6
		{"1.1.1.1", 13335},              // Cloudflare DNS
		{"2606:4700:4700::1111", 13335}, // Cloudflare DNS over IPv6
		{"9.9.9.9", 19281},              // Quad9
		{"208.67.222.222", 36692},       // OpenDNS
		{"52.94.76.1", 16509},           // Amazon, us-east-1
		{"20.190.128.1", 8075},          // Microsoft, login.microsoftonline.com's range
		{"193.0.6.139", 3333},           // RIPE NCC
	}
	for _, tt := range asns {
		loc := r.Lookup(netip.MustParseAddr(tt.ip))
		if loc.ASN != tt.asn {
			t.Errorf("%s: ASN %d (%s), want %d", tt.ip, loc.ASN, loc.ASOrg, tt.asn)
		}
	}
	if loc := r.Lookup(netip.MustParseAddr("52.94.76.1")); loc.Anonymizer != geo.AnonymizerHosting {
		t.Errorf("an AWS address is not flagged as hosting: %+v", loc)
	}

	countries := map[string]string{
		"193.0.6.139":   "NL", // RIPE NCC, Amsterdam
		"202.12.29.205": "AU", // APNIC, Brisbane
		"81.2.69.142":   "GB", // Andrews & Arnold, London
		"129.97.1.1":    "CA", // University of Waterloo
		"128.83.1.1":    "US", // University of Texas at Austin
	}
	if loc := r.Lookup(netip.MustParseAddr("128.83.1.1")); loc.City != "Austin" || loc.Region != "Texas" {
		t.Errorf("University of Texas address = %+v, want Austin, Texas", loc)
	}
	for ip, want := range countries {
		loc := r.Lookup(netip.MustParseAddr(ip))
		if loc.Country != want || !loc.Geolocatable || !loc.HasCoords || loc.AccuracyKM <= 0 || loc.TimeZone == "" {
			t.Errorf("%s = %+v, want a located address in %s with a radius and a zone", ip, loc, want)
		}
	}

	if loc := r.Lookup(netip.MustParseAddr("100.64.1.1")); loc.Range != geo.RangeCGNAT || loc.Geolocatable {
		t.Errorf("CGNAT address = %+v", loc)
	}
}
