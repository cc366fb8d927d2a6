package geo_test

import (
	"math"
	"testing"
	"time"

	"github.com/farmwatch/farmwatch/geo"
)

func TestDistanceKM(t *testing.T) {
	tests := []struct {
		name                   string
		lat1, lon1, lat2, lon2 float64
		want                   float64 // km, from published great-circle distances
	}{
		{"same point", 30.2672, -97.7431, 30.2672, -97.7431, 0},
		{"Austin-Dallas", 30.2672, -97.7431, 32.7767, -96.7970, 293},
		{"London-Paris", 51.5074, -0.1278, 48.8566, 2.3522, 344},
		{"New York-Pyongyang", 40.7128, -74.0060, 39.0392, 125.7625, 10965},
		{"across the antimeridian", 0, 179.5, 0, -179.5, 111.2},
		{"antipodes", 0, 0, 0, 180, math.Pi * geo.EarthRadiusKM},
	}
	for _, tt := range tests {
		got := geo.DistanceKM(tt.lat1, tt.lon1, tt.lat2, tt.lon2)
		if math.Abs(got-tt.want) > 0.01*tt.want+0.5 {
			t.Errorf("%s: DistanceKM = %.1f, want %.1f", tt.name, got, tt.want)
		}
	}
}

func TestFarFromHome(t *testing.T) {
	austin := geo.Place{Name: "Austin", Latitude: 30.2672, Longitude: -97.7431}
	dallas := geo.Location{Latitude: 32.7767, Longitude: -96.7970, HasCoords: true} // about 293 km away
	tests := []struct {
		name       string
		accuracy   float64
		threshold  float64
		wantFar    bool
		wantMargin float64
	}{
		{"far with a tight radius", 10, 200, true, 83},
		{"radius reaches inside the threshold", 100, 200, false, -7},
		{"exactly at the edge is not far", 93.2, 200, false, 0},
		{"country-level radius never far", geo.CountryAccuracyKM, 200, false, -907},
	}
	for _, tt := range tests {
		loc := dallas
		loc.AccuracyKM = tt.accuracy
		far, dist, margin := geo.FarFromHome(austin, loc, tt.threshold)
		if far != tt.wantFar || math.Abs(margin-tt.wantMargin) > 1.5 || math.Abs(dist-293) > 2 {
			t.Errorf("%s: FarFromHome = %v, %.1f km, margin %.1f; want %v, 293, %.1f",
				tt.name, far, dist, margin, tt.wantFar, tt.wantMargin)
		}
	}
	if far, _, _ := geo.FarFromHome(austin, geo.Location{}, 0); far {
		t.Error("a location without coordinates was judged far")
	}
}

func TestTravelSpeedKMH(t *testing.T) {
	t0 := time.Date(2026, 3, 8, 12, 0, 0, 0, time.UTC)
	// London to Paris (344 km) in one hour: no airliner does that door to door, but the speed is what it is.
	if got := geo.TravelSpeedKMH(51.5074, -0.1278, t0, 48.8566, 2.3522, t0.Add(time.Hour)); math.Abs(got-344) > 4 {
		t.Errorf("London-Paris in 1h = %.1f km/h, want 344", got)
	}
	if got := geo.TravelSpeedKMH(51.5074, -0.1278, t0.Add(2*time.Hour), 48.8566, 2.3522, t0); math.Abs(got-172) > 2 {
		t.Errorf("observations out of order: %.1f km/h, want 172", got)
	}
	if got := geo.TravelSpeedKMH(1, 1, t0, 2, 2, t0); !math.IsInf(got, 1) {
		t.Errorf("two places at one instant = %v, want +Inf", got)
	}
	if got := geo.TravelSpeedKMH(1, 1, t0, 1, 1, t0); got != 0 {
		t.Errorf("one place at one instant = %v, want 0", got)
	}
}

func TestOffsetDiffersAroundDST(t *testing.T) {
	const h = 3600
	tests := []struct {
		name       string
		a, b       string
		at         string
		differs    bool
		offA, offB int
	}{
		// US clocks spring forward on 2026-03-08 at 02:00 local; Denver does, Phoenix does not.
		{"Denver-Phoenix before US change", "America/Denver", "America/Phoenix", "2026-03-08T08:59:59Z", false, -7 * h, -7 * h},
		{"Denver-Phoenix after US change", "America/Denver", "America/Phoenix", "2026-03-08T09:00:00Z", true, -6 * h, -7 * h},
		{"Denver-Phoenix winter", "America/Denver", "America/Phoenix", "2026-01-15T12:00:00Z", false, -7 * h, -7 * h},
		// Between the US (Mar 8) and EU (Mar 29) changes New York is 4 hours behind London, not 5.
		{"New York-London gap weeks", "America/New_York", "Europe/London", "2026-03-20T12:00:00Z", true, -4 * h, 0},
		// EU clocks change at 01:00 UTC on 2026-03-29; Reykjavik keeps UTC all year.
		{"London-Reykjavik before EU change", "Europe/London", "Atlantic/Reykjavik", "2026-03-29T00:59:59Z", false, 0, 0},
		{"London-Reykjavik after EU change", "Europe/London", "Atlantic/Reykjavik", "2026-03-29T01:00:00Z", true, h, 0},
		// Autumn: US falls back on 2026-11-01 at 02:00 local (06:00 UTC in New York).
		{"New York-Toronto always agree", "America/New_York", "America/Toronto", "2026-11-01T06:00:00Z", false, -5 * h, -5 * h},
		{"Chicago-Pyongyang", "America/Chicago", "Asia/Pyongyang", "2026-07-01T00:00:00Z", true, -5 * h, 9 * h},
		{"half-hour zone", "Asia/Kolkata", "Asia/Karachi", "2026-07-01T00:00:00Z", true, 5*h + 1800, 5 * h},
	}
	for _, tt := range tests {
		at, err := time.Parse(time.RFC3339, tt.at)
		if err != nil {
			t.Fatal(err)
		}
		differs, offA, offB, err := geo.OffsetDiffers(tt.a, tt.b, at)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if differs != tt.differs || offA != tt.offA || offB != tt.offB {
			t.Errorf("%s: OffsetDiffers = %v, %d, %d; want %v, %d, %d", tt.name, differs, offA, offB, tt.differs, tt.offA, tt.offB)
		}
	}
	for _, bad := range []string{"", "Mars/Olympus_Mons"} {
		if _, _, _, err := geo.OffsetDiffers(bad, "UTC", time.Now()); err == nil {
			t.Errorf("OffsetDiffers(%q) succeeded, want an error", bad)
		}
	}
}

func TestZoneAt(t *testing.T) {
	tests := []struct {
		lat, lon float64
		want     string
	}{
		{30.2672, -97.7431, "America/Chicago"},
		{43.6532, -79.3832, "America/Toronto"},
		{33.4484, -112.0740, "America/Phoenix"},
		{39.0392, 125.7625, "Asia/Pyongyang"},
		{51.5074, -0.1278, "Europe/London"},
	}
	for _, tt := range tests {
		if got := geo.ZoneAt(tt.lat, tt.lon); got != tt.want {
			t.Errorf("ZoneAt(%v, %v) = %q, want %q", tt.lat, tt.lon, got, tt.want)
		}
	}
}
