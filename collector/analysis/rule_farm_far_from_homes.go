package analysis

import (
	"fmt"
	"time"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

func init() {
	register(RuleSpec{ID: RuleFarmFar, Class: ClassFarm, Source: SourceFarm, Weight: 1.5,
		Decay: Decay{Hold: 24 * time.Hour, Fade: 48 * time.Hour},
		Doc:   "the place the farm is observed at (from the reports that carry its shared network) is farther than `geo.far_km` from hires' claimed homes: x1/3 a hire, up to x1"})
}

// farmFarLine says which members' claimed homes are far from where the
// farm is.
func farmFarLine(cfg *Config, view *pb.Cluster) *pb.Evidence {
	if view.GetObservedPlace() == "" {
		return nil
	}
	far := map[string]string{}
	for _, m := range view.GetMembers() {
		if m.GetDistanceKm() > cfg.Geo.FarKM {
			far[m.GetHireId()] = fmt.Sprintf("%s claims %s, %.0f km away", m.GetHireName(), m.GetClaimedHome(), m.GetDistanceKm())
		}
	}
	if len(far) == 0 {
		return nil
	}
	var lines []string
	for _, m := range view.GetMembers() {
		if s, ok := far[m.GetHireId()]; ok {
			lines = append(lines, s)
			delete(far, m.GetHireId())
		}
	}
	n := len(lines)
	return &pb.Evidence{Rule: RuleFarmFar, Weight: cfg.Weights[RuleFarmFar] * float64(min(n, 3)) / 3,
		Explanation: fmt.Sprintf("The farm is in %s; %d hire(s) claim homes far from it: %s.", view.GetObservedPlace(), n, listSome(lines, 10)),
		Facts:       map[string]string{"far_hires": fmt.Sprint(n)}}
}
