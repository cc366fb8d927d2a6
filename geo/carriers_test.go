package geo_test

import (
	"strings"
	"testing"

	"github.com/oschwald/maxminddb-golang/v2"

	"github.com/farmwatch/farmwatch/geo"
)

// wireline networks give each home its own address: two laptops behind one
// of them are on one network, so none may be listed as a carrier.
var wireline = map[uint32]string{
	7018:  "AT&T Services (wireline and home internet)",
	7922:  "Comcast Cable",
	701:   "Verizon Business (Fios)",
	20115: "Charter Communications",
	11427: "Charter Communications (Texas)",
	22773: "Cox Communications",
	209:   "Lumen (CenturyLink)",
	3356:  "Lumen (Level 3)",
	36375: "University of Michigan",
}

func TestCarriersListOnlyMobileNetworksWithASource(t *testing.T) {
	cs := geo.Carriers()
	if len(cs) < 4 {
		t.Fatalf("%d carriers: the big US mobile networks are missing", len(cs))
	}
	for _, c := range cs {
		if name, ok := wireline[c.ASN]; ok {
			t.Errorf("AS%d (%s) is a wireline network, listed as the carrier %q", c.ASN, name, c.Provider)
		}
		if !strings.Contains(c.Source, "ARIN") && !strings.Contains(c.Source, "RIPE") && !strings.Contains(c.Source, "APNIC") {
			t.Errorf("AS%d: source %q names no registry record", c.ASN, c.Source)
		}
	}
}

// TestCarriersAgainstASNData checks every listed carrier against the full
// ASN database: the AS exists and carries the registered name the file
// gives, so a typo in an AS number cannot exclude somebody else's network.
func TestCarriersAgainstASNData(t *testing.T) {
	_, asnPath, ok := realDataPaths()
	if !ok {
		t.Skip("no data/geo/dbip-asn-lite.mmdb: run `make geodata` (or set FARMWATCH_GEODATA) to check the carriers against the ASN data")
	}
	db, err := maxminddb.Open(asnPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	names := map[uint32]map[string]int{}
	for res := range db.Networks() {
		var rec struct {
			ASN uint32 `maxminddb:"autonomous_system_number"`
			Org string `maxminddb:"autonomous_system_organization"`
		}
		if err := res.Decode(&rec); err != nil {
			t.Fatal(err)
		}
		if names[rec.ASN] == nil {
			names[rec.ASN] = map[string]int{}
		}
		names[rec.ASN][rec.Org]++
	}
	for _, c := range geo.Carriers() {
		got := names[c.ASN]
		if len(got) == 0 {
			t.Errorf("AS%d (%s) announces nothing in the ASN data", c.ASN, c.Provider)
			continue
		}
		if got[c.RegisteredName] == 0 {
			t.Errorf("AS%d (%s): registered as %v in the ASN data, the file says %q", c.ASN, c.Provider, got, c.RegisteredName)
		}
	}
	for asn, name := range wireline {
		if len(names[asn]) == 0 {
			t.Errorf("AS%d (%s), the wireline check's example, is not in the ASN data", asn, name)
		}
	}
}
