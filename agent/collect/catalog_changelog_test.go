package collect

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// Every catalog entry and every curated MAC block or organization is named
// in the changelog, and its newest section is the version both files carry.
func TestCatalogChangelog(t *testing.T) {
	b, err := os.ReadFile("CATALOG_CHANGELOG.md")
	if err != nil {
		t.Fatal(err)
	}
	log := string(b)
	cat, err := peripheralsCatalog()
	if err != nil {
		t.Fatal(err)
	}
	newest := regexp.MustCompile(`(?m)^## (\S+)`).FindStringSubmatch(log)
	if newest == nil || newest[1] != cat.Version {
		t.Fatalf("newest changelog section %v, catalog version %s", newest, cat.Version)
	}
	doc, err := parseKVMVendorsDoc(kvmVendorsJSON)
	if err != nil {
		t.Fatal(err)
	}
	if doc.Version != cat.Version {
		t.Errorf("kvm_vendors.json version %s, catalog %s: bump both", doc.Version, cat.Version)
	}
	for id := range cat.byID {
		if !strings.Contains(log, "`"+id+"`") {
			t.Errorf("catalog entry %s is not in the changelog", id)
		}
	}
	cur, err := os.ReadFile("kvm_vendors_curated.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`"(?:prefix|organization)": "([^"]+)"`).FindAllStringSubmatch(string(cur), -1) {
		if !strings.Contains(log, "`"+m[1]+"`") && !strings.Contains(log, m[1]) {
			t.Errorf("curated MAC entry %s is not in the changelog", m[1])
		}
	}
}
