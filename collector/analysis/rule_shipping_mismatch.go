package analysis

import (
	"fmt"
	"time"

	"github.com/farmwatch/farmwatch/geo"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

func init() {
	register(RuleSpec{ID: RuleShippingMismatch, Class: ClassWeak, Source: SourceReport, Weight: 1.0, Eval: shippingMismatch,
		Decay: Decay{Hold: 30 * 24 * time.Hour, Fade: 0},
		Doc:   "the shipping address's city is over 100 km from the claimed home"})
}

// shippingMismatch: the laptop was shipped far from the claimed home.
func shippingMismatch(in Input) *pb.Evidence {
	h := in.Hire
	ship, home := h.GetShipping(), h.GetHome()
	if ship == nil || home == nil {
		return nil
	}
	d := geo.DistanceKM(home.GetLatitude(), home.GetLongitude(), ship.GetLatitude(), ship.GetLongitude())
	if d <= in.Config.Hire.ShippingFarKM {
		return nil
	}
	return in.evidence(RuleShippingMismatch,
		fmt.Sprintf("The laptop was shipped to %s (%s), %.0f km from the claimed home %s.", h.GetShippingAddress(), ship.GetPlace(), d, home.GetPlace()),
		map[string]string{"distance_km": fmt.Sprintf("%.0f", d)})
}
