package analysis

import (
	"fmt"
	"time"

	"github.com/farmwatch/farmwatch/geo"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

func init() {
	register(RuleSpec{ID: RuleImpossibleTravel, Class: ClassWeak, Source: SourceReport, Weight: 1.5, Eval: impossibleTravel,
		Decay: Decay{Hold: 3 * 24 * time.Hour, Fade: 4 * 24 * time.Hour},
		Doc:   "two located reports lie farther apart (beyond both accuracy radii and `geo.min_jump_km`) than 1,000 km/h allows"})
}

// impossibleTravel: the laptop moved between two located reports faster than
// travel allows.
func impossibleTravel(in Input) *pb.Evidence {
	loc, last := in.located(), in.State.Last
	if loc == nil || last == nil || (loc.GetLatitude() == 0 && loc.GetLongitude() == 0) {
		return nil
	}
	now := in.Report.GetReceivedAt().AsTime()
	dist := geo.DistanceKM(last.Lat, last.Lon, loc.GetLatitude(), loc.GetLongitude())
	if dist-last.AccuracyKM-loc.GetAccuracyKm() < in.Config.Geo.MinJumpKM {
		return nil
	}
	speed := geo.TravelSpeedKMH(last.Lat, last.Lon, last.At, loc.GetLatitude(), loc.GetLongitude(), now)
	if speed < in.Config.Geo.ImpossibleSpeedKMH {
		return nil
	}
	return in.evidence(RuleImpossibleTravel,
		fmt.Sprintf("The laptop was in %s (%s) at %s and in %s (%s) %s later: %.0f km, %.0f km/h.",
			last.Place, last.IP, last.At.UTC().Format(time.RFC3339), place(loc), in.Report.GetPublicIp(),
			now.Sub(last.At).Round(time.Minute), dist, speed),
		map[string]string{"from": last.IP, "to": in.Report.GetPublicIp(), "speed_kmh": fmt.Sprintf("%.0f", speed)})
}
