package geotest_test

import (
	"net/netip"
	"testing"

	"github.com/oschwald/geoip2-golang/v2"

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
	if got := cdb.Metadata().DatabaseType; got != "GeoLite2-City" {
		t.Errorf("city database type %q", got)
	}
	if got := adb.Metadata().DatabaseType; got != "GeoLite2-ASN" {
		t.Errorf("ASN database type %q", got)
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
