package analysis

import (
	"testing"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

func TestHireRules(t *testing.T) {
	fires(t, "shipped to Phoenix", shippingMismatch, in(func(i *Input) {
		i.Hire.ShippingAddress = "1 W Main, Phoenix, AZ"
		i.Hire.Shipping = &pb.ClaimedHome{Place: "Phoenix, AZ, US", Latitude: 33.45, Longitude: -112.07}
	}), true)
	fires(t, "shipped in town", shippingMismatch, in(func(i *Input) {
		i.Hire.Shipping = &pb.ClaimedHome{Place: "Round Rock, TX, US", Latitude: 30.5083, Longitude: -97.6789}
	}), false)
	plus1 := fires(t, "+1 format", phoneFormat, in(func(i *Input) { i.Hire.Phone = "+1 (512) 555-0100" }), true)
	foreign := fires(t, "+82 for a US home", phoneFormat, in(func(i *Input) { i.Hire.Phone = "+82 10 5555 0100" }), true)
	if plus1 != nil && foreign != nil && !(foreign.GetWeight() > plus1.GetWeight()) {
		t.Errorf("foreign code weight %.2f not above +1 weight %.2f", foreign.GetWeight(), plus1.GetWeight())
	}
	fires(t, "domestic format", phoneFormat, in(nil), false)
	fires(t, "front company", highRiskInstitution, in(func(i *Input) {
		i.Hire.Institutions = []string{"Yanbian Silverstar Network Technology Co Ltd"}
	}), true)
	fires(t, "alias", highRiskInstitution, in(func(i *Input) { i.Hire.Institutions = []string{"Jinyong IT Cooperation Company"} }), true)
	fires(t, "ordinary university", highRiskInstitution, in(func(i *Input) { i.Hire.Institutions = []string{"University of Texas at Austin"} }), false)
	fires(t, "substring is not a match", highRiskInstitution, in(func(i *Input) { i.Hire.Institutions = []string{"Silverstar Dental"} }), false)
}
