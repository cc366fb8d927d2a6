package analysis

import (
	"fmt"
	"strings"
	"time"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

func init() {
	register(RuleSpec{ID: RuleFarmHomes, Class: ClassFarm, Source: SourceFarm, Weight: 1.5,
		Decay:     Decay{Hold: 24 * time.Hour, Fade: 48 * time.Hour},
		Doc:       "the farm's hires claim homes in several places more than `cluster.min_home_distance_km` (100) apart: x1 for two places, x1.5 for three, x2 for four or more",
		MaxFactor: func(*Config) float64 { return 2 }})
}

// homesFactor is how much a farm's number of claimed places weighs.
func homesFactor(places int) float64 {
	switch {
	case places <= 1:
		return 0
	case places == 2:
		return 1
	case places == 3:
		return 1.5
	}
	return 2
}

// farmHomesLine says which places a farm's hires claim, naming them.
func farmHomesLine(cfg *Config, cl *Cluster, view *pb.Cluster) *pb.Evidence {
	if cl.Places < 2 {
		return nil
	}
	var who []string
	seen := map[string]bool{}
	for _, m := range view.GetMembers() {
		if !seen[m.GetHireId()] {
			seen[m.GetHireId()] = true
			who = append(who, fmt.Sprintf("%s (%s) claims %s", m.GetHireName(), m.GetHireId(), m.GetClaimedHome()))
		}
	}
	return &pb.Evidence{Rule: RuleFarmHomes, Weight: cfg.Weights[RuleFarmHomes] * homesFactor(cl.Places),
		Explanation: fmt.Sprintf("%d hires claim homes in %d places more than %.0f km apart (%s): %s.", cl.Hires, cl.Places,
			cfg.Cluster.MinHomeDistanceKM, strings.Join(cl.PlaceNames, "; "), listSome(who, 12)),
		Facts: map[string]string{"hires": fmt.Sprint(cl.Hires), "places": fmt.Sprint(cl.Places)}}
}
