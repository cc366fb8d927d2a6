package analysis

import (
	"fmt"
	"sort"
	"strings"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// Input is what a rule sees: the hire's claims and one stored report.
type Input struct {
	Hire   *pb.Hire
	Report *pb.StoredReport
	Config Config
}

// Rule inspects one report and returns evidence, or nil.
type Rule func(Input) *pb.Evidence

// Rules run on every report, in this order.
var Rules = []Rule{ratPresent, countryMismatch}

// ratPresent: a catalogued remote-access tool runs on the laptop.
func ratPresent(in Input) *pb.Evidence {
	var names []string
	facts := map[string]string{}
	for _, t := range in.Report.GetReport().GetRemoteAccess().GetTools() {
		if in.Config.toolAllowed(t.GetToolId()) {
			continue
		}
		desc := t.GetName()
		if n := len(t.GetConnections()); n > 0 {
			desc += fmt.Sprintf(" with %d connection(s)", n)
		}
		names = append(names, desc)
		facts["tool."+t.GetToolId()] = t.GetProcess()
	}
	if len(names) == 0 {
		return nil
	}
	var peers []string
	for _, p := range in.Report.GetPeers() {
		where := p.GetLocation().GetCountry()
		if where == "" {
			where = "unknown country"
		}
		peers = append(peers, fmt.Sprintf("%s (%s)", p.GetIp(), where))
		facts["peer."+p.GetIp()] = where
	}
	sort.Strings(names)
	text := fmt.Sprintf("Remote-access software is running: %s.", strings.Join(names, ", "))
	if len(peers) > 0 {
		sort.Strings(peers)
		text += " Connected to " + strings.Join(peers, ", ") + "."
	}
	return &pb.Evidence{Rule: RuleRATPresent, Weight: in.Config.Weights[RuleRATPresent], Explanation: text, Facts: facts}
}

// countryMismatch: the public IP the collector saw is in another country than
// the hire's claimed home.
func countryMismatch(in Input) *pb.Evidence {
	loc := in.Report.GetLocation()
	home := in.Hire.GetHome()
	if !loc.GetGeolocatable() || loc.GetCountry() == "" || home.GetCountry() == "" {
		return nil
	}
	if strings.EqualFold(loc.GetCountry(), home.GetCountry()) {
		return nil
	}
	where := loc.GetCountry()
	if loc.GetCity() != "" {
		where = loc.GetCity() + ", " + where
	}
	return &pb.Evidence{
		Rule:   RuleCountryMismatch,
		Weight: in.Config.Weights[RuleCountryMismatch],
		Explanation: fmt.Sprintf("The laptop connects from %s (%s, AS%d %s) but %s claimed to live in %s.",
			in.Report.GetPublicIp(), where, loc.GetAsn(), loc.GetAsOrg(), hireName(in.Hire), home.GetPlace()),
		Facts: map[string]string{
			"public_ip":        in.Report.GetPublicIp(),
			"observed_country": loc.GetCountry(),
			"claimed_country":  home.GetCountry(),
		},
	}
}

func hireName(h *pb.Hire) string {
	if h.GetName() != "" {
		return h.GetName()
	}
	return "the hire"
}
