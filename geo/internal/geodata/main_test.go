package main

import (
	"bytes"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
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

// Records share their country, region and city parts, and read back the same as unshared ones.
func TestValuePartsShared(t *testing.T) {
	p := newValueParts()
	a := p.city(dbipRecord{CountryCode: "US", State1: "Texas", City: "Austin", Latitude: 30.2672, Longitude: -97.7431})
	b := p.city(dbipRecord{CountryCode: "US", State1: "Texas", City: "Austin", Latitude: 30.2711, Longitude: -97.7437})
	if reflect.ValueOf(a["country"]).UnsafePointer() != reflect.ValueOf(b["country"]).UnsafePointer() ||
		reflect.ValueOf(a["city"]).UnsafePointer() != reflect.ValueOf(b["city"]).UnsafePointer() {
		t.Error("two Austin records do not share their country and city")
	}
	if !a.Equal(cityValue(dbipRecord{CountryCode: "US", State1: "Texas", City: "Austin", Latitude: 30.2672, Longitude: -97.7431})) {
		t.Error("a shared record differs from an unshared one")
	}
	// The same networks written with shared and with unshared parts give the same bytes.
	write := func(value func(dbipRecord) mmdbtype.Map) []byte {
		tree, err := newTree(geo.TypeDBIPCity, cityPackage, "test")
		if err != nil {
			t.Fatal(err)
		}
		for i, city := range []string{"Austin", "Austin", "Dallas", "Austin"} {
			p := netip.PrefixFrom(netip.AddrFrom4([4]byte{67, 198, byte(i), 0}), 24)
			if _, err := insert(tree, p, value(dbipRecord{CountryCode: "US", State1: "Texas", City: city, Latitude: 30 + float64(i), Longitude: -97})); err != nil {
				t.Fatal(err)
			}
		}
		path := filepath.Join(t.TempDir(), "city.mmdb")
		if err := writeTree(tree, path); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	if !bytes.Equal(write(newValueParts().city), write(cityValue)) {
		t.Error("sharing parts changed the database's bytes")
	}
}
