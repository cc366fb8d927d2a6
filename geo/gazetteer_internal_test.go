package geo

import (
	"testing"
	"time"
)

// Every zone the gazetteer names must load from the embedded tzdata, or OffsetDiffers would fail for a
// claimed home on a host whose zone files are older than the gazetteer.
func TestGazetteerZonesLoad(t *testing.T) {
	g, err := loadGazetteer()
	if err != nil {
		t.Fatal(err)
	}
	if len(g.cities) < 100000 {
		t.Fatalf("gazetteer has %d places, want the GeoNames cities of 1,000 or more", len(g.cities))
	}
	seen := map[string]bool{}
	for _, c := range g.cities {
		if c.zone == "" || seen[c.zone] {
			continue
		}
		seen[c.zone] = true
		if _, err := time.LoadLocation(c.zone); err != nil {
			t.Errorf("%s, %s: zone %q: %v", c.name, c.country, c.zone, err)
		}
	}
}

func TestFold(t *testing.T) {
	tests := map[string]string{
		"Montréal":        "montreal",
		"  St. Louis ":    "st louis",
		"Saint-Louis":     "st louis",
		"Winston-Salem":   "winston salem",
		"Coeur d'Alene":   "coeur dalene",
		"Mount Pleasant":  "mt pleasant",
		"FORT WORTH":      "ft worth",
		"São Paulo":       "sao paulo",
		"Washington, D.C": "washington, dc",
	}
	for in, want := range tests {
		if got := fold(in); got != want {
			t.Errorf("fold(%q) = %q, want %q", in, got, want)
		}
	}
}
