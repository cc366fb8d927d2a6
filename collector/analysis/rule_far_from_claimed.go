package analysis

import (
	"fmt"
	"time"

	"github.com/farmwatch/farmwatch/geo"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

func init() {
	register(RuleSpec{ID: RuleFarFromClaimed, Class: ClassWeak, Source: SourceReport, Weight: 1.0, Eval: farFromClaimed,
		Decay: Decay{Hold: 12 * time.Hour, Fade: 12 * time.Hour},
		Doc:   "the public IP is farther from the claimed home than `geo.far_km` (300), after subtracting the IP's accuracy radius"})
}

// farFromClaimed: the public IP is far from the claimed home even after
// giving the location its whole accuracy radius.
func farFromClaimed(in Input) *pb.Evidence {
	loc, home := in.located(), in.Hire.GetHome()
	if loc == nil || home == nil || (loc.GetLatitude() == 0 && loc.GetLongitude() == 0) || (home.GetLatitude() == 0 && home.GetLongitude() == 0) {
		return nil
	}
	far, dist, margin := geo.FarFromHome(geo.Place{Latitude: home.GetLatitude(), Longitude: home.GetLongitude()},
		geo.Location{Latitude: loc.GetLatitude(), Longitude: loc.GetLongitude(), HasCoords: true, AccuracyKM: loc.GetAccuracyKm()},
		in.Config.Geo.FarKM)
	if !far {
		return nil
	}
	return in.evidence(RuleFarFromClaimed,
		fmt.Sprintf("The laptop's public IP %s is in %s, %.0f km from the claimed home %s (at least %.0f km allowing the %.0f km accuracy radius).",
			in.Report.GetPublicIp(), place(loc), dist, home.GetPlace(), dist-loc.GetAccuracyKm(), loc.GetAccuracyKm()),
		map[string]string{"distance_km": fmt.Sprintf("%.0f", dist), "margin_km": fmt.Sprintf("%.0f", margin),
			"accuracy_km": fmt.Sprintf("%.0f", loc.GetAccuracyKm())})
}
