package ouigen

import (
	"strings"
	"testing"
)

// Rows in the layout of ieee-data's oui.csv, mam.csv and oui36.csv (quoted
// addresses with commas, a trailing space in the address column).
const (
	maL = "Registry,Assignment,Organization Name,Organization Address\n" +
		"MA-L,B827EB,Raspberry Pi Foundation,Mitchell Wood House Caldecote Cambridgeshire US CB23 7NU \n" +
		"MA-L,70B3D5,IEEE Registration Authority,445 Hoes Lane Piscataway NJ US 08554 \n"
	maS = "Registry,Assignment,Organization Name,Organization Address\n" +
		"MA-S,70B3D5F2F,TELEPLATFORMS,\"Polbina st., 3/1 Moscow  RU 109388 \"\n" +
		"MA-S,70B3D5719,Raspberry Pi Foundation,\"Somewhere, Cambridge GB \"\n"
)

func snapshot(t *testing.T) *Snapshot {
	t.Helper()
	l, err := parseRegistryCSV(strings.NewReader(maL), "MA-L", 24)
	if err != nil {
		t.Fatal(err)
	}
	s, err := parseRegistryCSV(strings.NewReader(maS), "MA-S", 36)
	if err != nil {
		t.Fatal(err)
	}
	return &Snapshot{Assignments: append(l, s...), Date: "2022-08-27"}
}

func TestGeneratePullsEveryBlockOfAnOrganization(t *testing.T) {
	c := &Curated{Version: "1", Organizations: []CuratedOrganization{
		{Organization: "Raspberry Pi Foundation", Vendor: "raspberry-pi", Confidence: "low", Reason: "r"}}}
	l, err := Generate(c, snapshot(t))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, v := range l.Vendors {
		got = append(got, v.Prefix+"/"+v.Registry)
	}
	if strings.Join(got, " ") != "70:b3:d5:71:9/MA-S b8:27:eb/MA-L" {
		t.Errorf("blocks %v", got)
	}
	if l.Registry.Date != "2022-08-27" || !strings.Contains(l.Vendors[0].Source, "MA-S registry (2022-08-27)") {
		t.Errorf("source and date not recorded: %+v", l)
	}
}

func TestGenerateRejects(t *testing.T) {
	org := func(name string) []CuratedOrganization {
		return []CuratedOrganization{{Organization: name, Vendor: "v", Confidence: "low", Reason: "r"}}
	}
	block := func(prefix, owner string) []CuratedBlock {
		return []CuratedBlock{{Prefix: prefix, Organization: owner, Vendor: "v", Confidence: "high", Reason: "r"}}
	}
	for name, c := range map[string]*Curated{
		"organization not in the registry": {Organizations: org("Nobody Ltd")},
		"block owned by another":           {Blocks: block("70:b3:d5:f2:f", "Someone Else")},
		"32-bit block":                     {Blocks: block("30:52:53:01", "X")},
		"no reason":                        {Blocks: []CuratedBlock{{Prefix: "30:52:53", Organization: "X", Vendor: "v", Confidence: "high"}}},
		"bad confidence":                   {Blocks: []CuratedBlock{{Prefix: "30:52:53", Organization: "X", Vendor: "v", Confidence: "sure", Reason: "r"}}},
	} {
		if _, err := Generate(c, snapshot(t)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestGenerateKeepsBlocksTheSnapshotLacks(t *testing.T) {
	c := &Curated{Version: "1", Blocks: []CuratedBlock{
		{Prefix: "04:C9:8B:1", Organization: "TinyPilot", Vendor: "tinypilot", Confidence: "high", Reason: "r"}}}
	l, err := Generate(c, snapshot(t))
	if err != nil {
		t.Fatal(err)
	}
	v := l.Vendors[0]
	if v.Prefix != "04:c9:8b:1" || v.Bits != 28 || v.Registry != "" || !strings.Contains(v.Source, "Not in the IEEE registry snapshot of 2022-08-27") {
		t.Errorf("%+v", v)
	}
}
