package main

import (
	"net/netip"
	"path/filepath"
	"testing"

	"github.com/maxmind/mmdbwriter/mmdbtype"

	"github.com/farmwatch/farmwatch/geo"
)

// A DB-IP record rewritten by cityValue reads back through geo.Resolver like a GeoLite2 record.
func TestCityValueReadsInGeoLite2Schema(t *testing.T) {
	tree, err := newTree(geo.TypeDBIPCity, cityPackage, "test")
	if err != nil {
		t.Fatal(err)
	}
	recs := map[string]dbipRecord{
		"67.198.0.0/16": {CountryCode: "US", State1: "Texas", City: "Austin", Latitude: 30.26715, Longitude: -97.74306,
			TimeZone: "America/Chicago"},
		"175.45.176.0/24": {CountryCode: "KP", Latitude: 39.0339, Longitude: 125.7543, TimeZone: "Asia/Pyongyang"},
		"2a02:c7f::/32":   {CountryCode: "GB", State1: "Scotland", City: "Edinburgh", Latitude: 55.9533, Longitude: -3.1883},
		"10.0.0.0/8":      {CountryCode: "ZZ"},
	}
	for prefix, rec := range recs {
		if _, err := insert(tree, netip.MustParsePrefix(prefix), cityValue(rec)); err != nil {
			t.Fatal(err)
		}
	}
	asnTree, err := newTree(geo.TypeDBIPASN, asnPackage, "test")
	if err != nil {
		t.Fatal(err)
	}
	val := mmdbtype.Map{"autonomous_system_number": mmdbtype.Uint32(11427), "autonomous_system_organization": mmdbtype.String("Charter")}
	if _, err := insertRange(asnTree, netip.MustParseAddr("67.198.0.0"), netip.MustParseAddr("67.198.255.255"), val); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	city, asn := filepath.Join(dir, "city.mmdb"), filepath.Join(dir, "asn.mmdb")
	if err := writeTree(tree, city); err != nil {
		t.Fatal(err)
	}
	if err := writeTree(asnTree, asn); err != nil {
		t.Fatal(err)
	}
	r, err := geo.Open(city, asn)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()

	austin := r.Lookup(netip.MustParseAddr("67.198.1.2"))
	if austin.City != "Austin" || austin.Region != "Texas" || austin.CountryName != "United States" ||
		austin.AccuracyKM != geo.DefaultAccuracyKM || !austin.AccuracyAssumed || austin.Latitude != 30.2672 || austin.ASN != 11427 {
		t.Errorf("Austin = %+v", austin)
	}
	kp := r.Lookup(netip.MustParseAddr("175.45.176.9"))
	if kp.Country != "KP" || kp.AccuracyKM != geo.CountryAccuracyKM || !kp.AccuracyAssumed || kp.TimeZone != "Asia/Pyongyang" {
		t.Errorf("North Korea = %+v", kp)
	}
	if got := r.Attribution(); got != geo.AttributionDBIP {
		t.Errorf("attribution %q", got)
	}
	if ed := r.Lookup(netip.MustParseAddr("2a02:c7f::1")); ed.City != "Edinburgh" || !ed.Geolocatable {
		t.Errorf("Edinburgh = %+v", ed)
	}
}

// The files are named for their source and data month, not for MaxMind's products.
func TestFileNames(t *testing.T) {
	if got := CityFile(cityPackage); got != "dbip-city-lite-2026-06.mmdb" {
		t.Errorf("CityFile = %s", got)
	}
	if got := ASNFile(asnPackage); got != "dbip-asn-lite-2026-06.mmdb" {
		t.Errorf("ASNFile = %s", got)
	}
	if _, ok := cityValue(dbipRecord{CountryCode: "US", City: "Austin", Latitude: 30.2, Longitude: -97.7})["location"].(mmdbtype.Map)["accuracy_radius"]; ok {
		t.Error("the city record carries an accuracy radius DB-IP never gave")
	}
}

func TestBuildEpoch(t *testing.T) {
	if got := buildEpoch(cityPackage); got != 1780664400 { // 2026-06-05T13:00:00Z
		t.Errorf("buildEpoch(%s) = %d", cityPackage, got)
	}
}

// Adjacent networks with one value become one range (fewer prefixes, so fewer tree nodes), networks with
// another value or a gap between them stay apart, and a reserved prefix inside a joined range is skipped
// alone. Lookups answer as if each network had been inserted.
func TestRunsJoinAdjacentNetworks(t *testing.T) {
	tree, err := newTree(geo.TypeDBIPCity, cityPackage, "test")
	if err != nil {
		t.Fatal(err)
	}
	austin := cityValue(dbipRecord{CountryCode: "US", City: "Austin", Latitude: 30.2672, Longitude: -97.7431})
	dallas := cityValue(dbipRecord{CountryCode: "US", City: "Dallas", Latitude: 32.7767, Longitude: -96.797})
	rs := runs{tree: tree}
	for _, n := range []struct {
		prefix string
		val    mmdbtype.Map
	}{
		{"67.198.0.0/24", austin}, {"67.198.1.0/24", austin}, {"67.198.2.0/23", austin}, // one /22
		{"67.198.4.0/24", dallas},
		{"67.198.6.0/24", dallas}, // a gap: its own range
		// 10.0.0.0/8 is reserved (private); its neighbours are not.
		{"9.255.255.0/24", austin}, {"10.0.0.0/8", austin}, {"11.0.0.0/24", austin},
	} {
		if err := rs.add(netip.MustParsePrefix(n.prefix), n.val); err != nil {
			t.Fatal(err)
		}
	}
	if err := rs.flush(); err != nil {
		t.Fatal(err)
	}
	if rs.read != 8 || rs.inserted != 5 || rs.skipped != 1 {
		t.Errorf("read %d, inserted %d prefixes, skipped %d; want 8, 5, 1", rs.read, rs.inserted, rs.skipped)
	}
	path := filepath.Join(t.TempDir(), "city.mmdb")
	if err := writeTree(tree, path); err != nil {
		t.Fatal(err)
	}
	r, err := geo.Open(path, "")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for ip, want := range map[string]string{"67.198.0.1": "Austin", "67.198.3.255": "Austin", "67.198.4.9": "Dallas",
		"67.198.5.9": "", "67.198.6.9": "Dallas", "9.255.255.1": "Austin", "11.0.0.1": "Austin"} {
		if got := r.Lookup(netip.MustParseAddr(ip)).City; got != want {
			t.Errorf("%s: %q, want %q", ip, got, want)
		}
	}
}
