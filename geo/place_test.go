package geo_test

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/farmwatch/farmwatch/geo"
)

func TestParsePlace(t *testing.T) {
	tests := []struct {
		in                        string
		name, regionCode, country string
		lat, lon                  float64
		zone                      string
	}{
		{"Austin, TX, US", "Austin", "TX", "US", 30.2672, -97.7431, "America/Chicago"},
		{"Austin, Texas, US", "Austin", "TX", "US", 30.2672, -97.7431, "America/Chicago"},
		{"austin, texas, united states", "Austin", "TX", "US", 30.2672, -97.7431, "America/Chicago"},
		{"Austin, TX", "Austin", "TX", "US", 30.2672, -97.7431, "America/Chicago"},
		{"Toronto, ON, CA", "Toronto", "ON", "CA", 43.7064, -79.3986, "America/Toronto"},
		{"Toronto, Ontario, Canada", "Toronto", "ON", "CA", 43.7064, -79.3986, "America/Toronto"},
		{"Montreal, QC, CA", "Montréal", "QC", "CA", 45.5088, -73.5878, "America/Toronto"},
		{"Phoenix, AZ, US", "Phoenix", "AZ", "US", 33.4484, -112.074, "America/Phoenix"},
		{"St Louis, MO, US", "St. Louis", "MO", "US", 38.6273, -90.1979, "America/Chicago"},
		{"New York, NY, US", "New York City", "NY", "US", 40.7143, -74.006, "America/New_York"},
		{"Portland, OR, US", "Portland", "OR", "US", 45.5234, -122.6762, "America/Los_Angeles"},
		{"Paris, France", "Paris", "11", "FR", 48.8534, 2.3488, "Europe/Paris"},
		{"Sydney, NSW, AU", "Sydney", "NSW", "AU", -33.8679, 151.2073, "Australia/Sydney"},
		{"Pyongyang, KP", "Pyongyang", "12", "KP", 39.0339, 125.7543, "Asia/Pyongyang"},
	}
	for _, tt := range tests {
		p, err := geo.ParsePlace(tt.in)
		if err != nil {
			t.Errorf("ParsePlace(%q): %v", tt.in, err)
			continue
		}
		if p.Name != tt.name || p.RegionCode != tt.regionCode || p.Country != tt.country || p.TimeZone != tt.zone ||
			geo.DistanceKM(p.Latitude, p.Longitude, tt.lat, tt.lon) > 10 {
			t.Errorf("ParsePlace(%q) = %+v, want %s, %s, %s at %v,%v in %s", tt.in, p, tt.name, tt.regionCode, tt.country, tt.lat, tt.lon, tt.zone)
		}
	}
}

func TestParsePlaceCoordinates(t *testing.T) {
	p, err := geo.ParsePlace("30.27,-97.74")
	if err != nil {
		t.Fatal(err)
	}
	if p.Latitude != 30.27 || p.Longitude != -97.74 || p.TimeZone != "America/Chicago" || p.Country != "US" || p.RegionCode != "TX" {
		t.Errorf("ParsePlace(30.27,-97.74) = %+v", p)
	}
	p, err = geo.ParsePlace(" -33.87 151.21 ")
	if err != nil || p.TimeZone != "Australia/Sydney" || math.Abs(p.Latitude+33.87) > 1e-9 {
		t.Errorf("ParsePlace(-33.87 151.21) = %+v, %v", p, err)
	}
	for _, bad := range []string{"91,0", "0,181", "-97.74,300"} {
		if _, err := geo.ParsePlace(bad); err == nil {
			t.Errorf("ParsePlace(%q) succeeded, want out of range", bad)
		}
	}
}

func TestParsePlaceErrors(t *testing.T) {
	tests := []struct {
		in            string
		problem       string
		wantCandidate string // a candidate's String(), "" for none expected
	}{
		{"Springfield, US", "places match", "Springfield, IL, US"},
		{"Austin", "places match", "Austin, MN, US"},
		{"Austn, TX, US", "no such place", "Austin, TX, US"},
		{"Toronot, ON, CA", "no such place", "Toronto, ON, CA"},
		{"Austin, ZZ, US", `no region "ZZ" in US`, ""},
		{"Austin, TX, Atlantis", `unknown country "Atlantis"`, ""},
		{"Austin, Narnia", "neither a country nor a region", ""},
		{"", "not a place", ""},
		{"a, b, c, d", "not a place", ""},
	}
	for _, tt := range tests {
		_, err := geo.ParsePlace(tt.in)
		var pe *geo.PlaceError
		if !errors.As(err, &pe) {
			t.Errorf("ParsePlace(%q) error = %v, want a *PlaceError", tt.in, err)
			continue
		}
		if !strings.Contains(pe.Problem, tt.problem) {
			t.Errorf("ParsePlace(%q) problem = %q, want %q", tt.in, pe.Problem, tt.problem)
		}
		if tt.wantCandidate == "" {
			continue
		}
		found := false
		for _, c := range pe.Candidates {
			found = found || c.String() == tt.wantCandidate
		}
		if !found || !strings.Contains(err.Error(), tt.wantCandidate) {
			t.Errorf("ParsePlace(%q) = %v; want candidate %s listed", tt.in, err, tt.wantCandidate)
		}
	}
}

// A claimed home in Austin and an IP placed in Dallas: far at a 200 km threshold with a tight radius, not
// far with the default radius written for DB-IP positions.
func TestFarFromClaimedHome(t *testing.T) {
	home, err := geo.ParsePlace("Austin, TX, US")
	if err != nil {
		t.Fatal(err)
	}
	dallas := geo.Location{Latitude: 32.7767, Longitude: -96.797, HasCoords: true, AccuracyKM: geo.DefaultAccuracyKM}
	if far, d, _ := geo.FarFromHome(home, dallas, 200); far || d < 280 || d > 300 {
		t.Errorf("Dallas, default radius, 200 km threshold: far=%v d=%.0f; want not far (293-100 < 200)", far, d)
	}
	dallas.AccuracyKM = 20
	if far, _, margin := geo.FarFromHome(home, dallas, 200); !far || margin < 70 {
		t.Errorf("Dallas, 20 km radius: far=%v margin=%.0f, want far by about 73 km", far, margin)
	}
}

// FindPlace answers as ParsePlace does, without the suggestions of a miss.
func TestFindPlaceAgreesWithParsePlace(t *testing.T) {
	for _, s := range []string{"Austin, TX, US", "Toronto, ON, CA", "Madrid, Spain", "30.2672,-97.7431",
		"Austn, TX, US", "Qqqzzz, TX", "Springfield", "Nowhere, ZZ, XX", ""} {
		want, err := geo.ParsePlace(s)
		got, ok := geo.FindPlace(s)
		if ok != (err == nil) || got != want {
			t.Errorf("FindPlace(%q) = %v, %v; ParsePlace gives %v, %v", s, got, ok, want, err)
		}
	}
}
