package analysis

import (
	"strings"
	"testing"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

func TestCountryMismatchAndEgress(t *testing.T) {
	fires(t, "same country", countryMismatch, in(nil), false)
	ev := fires(t, "abroad", countryMismatch, in(func(i *Input) {
		i.Report.Location = &pb.IPLocation{Country: "NL", City: "Amsterdam", Geolocatable: true, Asn: 9009, AsOrg: "M247"}
	}), true)
	if ev != nil && !strings.Contains(ev.GetExplanation(), "Amsterdam, NL") {
		t.Errorf("explanation %q", ev.GetExplanation())
	}
	fires(t, "not geolocatable", countryMismatch, in(func(i *Input) { i.Report.Location = &pb.IPLocation{Range: "cgnat"} }), false)
	fires(t, "company egress abroad", countryMismatch, in(func(i *Input) {
		i.Report.Location = &pb.IPLocation{Country: "NL", Geolocatable: true}
		i.Report.PublicIp = "203.0.113.5"
		i.Config.Allow.EgressCIDRs = []string{"203.0.113.0/24"}
		c, _ := ParseConfig([]byte("allow:\n  egress_cidrs: [203.0.113.0/24]\n"))
		i.Config = &c
	}), false)
}
