package analysis

import (
	"fmt"
	"strings"
	"time"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

func init() {
	register(RuleSpec{ID: RuleCountryMismatch, Class: ClassWeak, Source: SourceReport, Weight: 2.5, Eval: countryMismatch,
		Decay: Decay{Hold: 24 * time.Hour, Fade: 48 * time.Hour},
		Doc:   "the public IP the collector saw is in another country than the claimed home"})
}

// countryMismatch: the public IP the collector saw is in another country
// than the claimed home.
func countryMismatch(in Input) *pb.Evidence {
	loc, home := in.located(), in.Hire.GetHome()
	if loc == nil || loc.GetCountry() == "" || home.GetCountry() == "" || strings.EqualFold(loc.GetCountry(), home.GetCountry()) {
		return nil
	}
	return in.evidence(RuleCountryMismatch,
		fmt.Sprintf("The laptop connects from %s (%s, AS%d %s) but %s claimed to live in %s.",
			in.Report.GetPublicIp(), place(loc), loc.GetAsn(), loc.GetAsOrg(), hireName(in.Hire), home.GetPlace()),
		map[string]string{"public_ip": in.Report.GetPublicIp(), "observed_country": loc.GetCountry(), "claimed_country": home.GetCountry()})
}
