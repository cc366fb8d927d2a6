package geotest_test

import (
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/oschwald/geoip2-golang/v2"

	"github.com/farmwatch/farmwatch/geo"
	"github.com/farmwatch/farmwatch/geo/geotest"
)

func TestWriteDatabasesSchemas(t *testing.T) {
	city, asn, err := geotest.WriteDatabases(t.TempDir(), []geotest.Network{
		{Prefix: "67.198.0.0/16", Country: "US", CountryName: "United States", Region: "Texas", City: "Austin",
			Lat: 30.2672, Lon: -97.7431, AccuracyKM: 20, TimeZone: "America/Chicago", ASN: 11427, Org: "Charter"},
		{Prefix: "2a02:c7f::/32", Country: "GB", ASN: 5607, Org: "Sky UK Limited"},
	})
	if err != nil {
		t.Fatal(err)
	}
	cdb, err := geoip2.Open(city)
	if err != nil {
		t.Fatal(err)
	}
	defer cdb.Close()
	adb, err := geoip2.Open(asn)
	if err != nil {
		t.Fatal(err)
	}
	defer adb.Close()
	if got := cdb.Metadata().DatabaseType; got != geo.TypeDBIPCity || filepath.Base(city) != "dbip-city-lite.mmdb" {
		t.Errorf("city database %s has type %q", city, got)
	}
	if got := adb.Metadata().DatabaseType; got != geo.TypeDBIPASN || filepath.Base(asn) != "dbip-asn-lite.mmdb" {
		t.Errorf("ASN database %s has type %q", asn, got)
	}
	c, err := cdb.City(netip.MustParseAddr("67.198.3.4"))
	if err != nil || c.City.Names.English != "Austin" || c.Subdivisions[0].Names.English != "Texas" ||
		c.Location.AccuracyRadius != 20 || c.Location.TimeZone != "America/Chicago" || *c.Location.Latitude != 30.2672 {
		t.Errorf("City(67.198.3.4) = %+v, %v", c, err)
	}
	a, err := adb.ASN(netip.MustParseAddr("2a02:c7f::9"))
	if err != nil || a.AutonomousSystemNumber != 5607 || a.AutonomousSystemOrganization != "Sky UK Limited" {
		t.Errorf("ASN(2a02:c7f::9) = %+v, %v", a, err)
	}
	if _, _, err := geotest.WriteDatabases(t.TempDir(), []geotest.Network{{Prefix: "not-a-prefix"}}); err == nil {
		t.Error("a bad prefix was accepted")
	}
}

// The test databases carry the naming, build time and credit line of the files they stand for.
func TestWriteFlavors(t *testing.T) {
	built := time.Date(2026, 6, 5, 13, 0, 0, 0, time.UTC)
	nets := []geotest.Network{{Prefix: "67.198.0.0/16", Country: "US", Lat: 30.27, Lon: -97.74, ASN: 11427, Org: "Charter"}}
	for _, tt := range []struct {
		flavor             geotest.Flavor
		cityFile, cityType string
		asnFile, asnType   string
		attribution        string
	}{
		{geotest.DBIP, "dbip-city-lite.mmdb", "DBIP-City-Lite", "dbip-asn-lite.mmdb", "DBIP-ASN-Lite (compat=GeoLite2-ASN)", "IP Geolocation by DB-IP"},
		{geotest.MaxMind, "GeoLite2-City.mmdb", "GeoLite2-City", "GeoLite2-ASN.mmdb", "GeoLite2-ASN",
			"This product includes GeoLite2 data created by MaxMind, available from https://www.maxmind.com"},
	} {
		city, asn, err := geotest.Write(t.TempDir(), geotest.Options{Flavor: tt.flavor, Built: built}, nets)
		if err != nil {
			t.Fatal(err)
		}
		r, err := geo.Open(city, asn)
		if err != nil {
			t.Fatal(err)
		}
		dbs := r.Databases()
		if len(dbs) != 2 || filepath.Base(city) != tt.cityFile || dbs[0].Type != tt.cityType ||
			filepath.Base(asn) != tt.asnFile || dbs[1].Type != tt.asnType || !dbs[0].Built.Equal(built) {
			t.Errorf("flavor %d: %s, %s: %+v", tt.flavor, city, asn, dbs)
		}
		if got := r.Attribution(); got != tt.attribution {
			t.Errorf("flavor %d: attribution %q, want %q", tt.flavor, got, tt.attribution)
		}
		r.Close()
	}
}
