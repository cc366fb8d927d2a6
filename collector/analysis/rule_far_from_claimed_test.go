package analysis

import (
	"testing"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

func TestFarFromClaimedAccuracyRadius(t *testing.T) {
	// Dallas is ~292 km from Austin.
	dallas := func(acc float64) func(*Input) {
		return func(i *Input) {
			i.Report.Location = &pb.IPLocation{Country: "US", City: "Dallas", Latitude: 32.7767, Longitude: -96.7970, AccuracyKm: acc, Geolocatable: true}
			i.Config.Geo.FarKM = 200
		}
	}
	fires(t, "292 km, radius 20, threshold 200", farFromClaimed, in(dallas(20)), true)
	fires(t, "292 km, radius 100 (margin 192 < 200)", farFromClaimed, in(dallas(100)), false)
	fires(t, "radius larger than the distance", farFromClaimed, in(dallas(500)), false)
	fires(t, "home", farFromClaimed, in(nil), false)
}
