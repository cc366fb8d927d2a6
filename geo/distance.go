package geo

import (
	"math"
	"time"
)

// EarthRadiusKM is the mean Earth radius (IUGG), the usual choice for haversine distances.
const EarthRadiusKM = 6371.0088

// DistanceKM is the great-circle distance between two points given in degrees, by the haversine formula,
// which stays accurate for the short distances that matter most here.
func DistanceKM(lat1, lon1, lat2, lon2 float64) float64 {
	φ1, φ2 := lat1*math.Pi/180, lat2*math.Pi/180
	dφ := (lat2 - lat1) * math.Pi / 180
	dλ := (lon2 - lon1) * math.Pi / 180
	a := math.Sin(dφ/2)*math.Sin(dφ/2) + math.Cos(φ1)*math.Cos(φ2)*math.Sin(dλ/2)*math.Sin(dλ/2)
	return 2 * EarthRadiusKM * math.Asin(math.Sqrt(min(1, a)))
}

// FarFromHome decides whether loc is more than thresholdKM from home even at the near edge of its
// accuracy circle. marginKM is how far beyond the threshold that near edge is (negative when within);
// far is false for a location without coordinates, whatever the margin.
func FarFromHome(home Place, loc Location, thresholdKM float64) (far bool, distanceKM, marginKM float64) {
	if !loc.HasCoords {
		return false, 0, 0
	}
	distanceKM = DistanceKM(home.Latitude, home.Longitude, loc.Latitude, loc.Longitude)
	marginKM = distanceKM - loc.AccuracyKM - thresholdKM
	return marginKM > 0, distanceKM, marginKM
}

// TravelSpeedKMH is the ground speed needed to be at both observations, in km/h. Observations at the
// same instant give +Inf when the points differ and 0 when they coincide, so "impossible travel" rules can
// compare against a ceiling without special cases.
func TravelSpeedKMH(lat1, lon1 float64, t1 time.Time, lat2, lon2 float64, t2 time.Time) float64 {
	d := DistanceKM(lat1, lon1, lat2, lon2)
	hours := math.Abs(t2.Sub(t1).Hours())
	if hours == 0 {
		if d == 0 {
			return 0
		}
		return math.Inf(1)
	}
	return d / hours
}
