package analysis

import (
	"fmt"
	"sort"
	"strings"
	"time"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

func init() {
	register(RuleSpec{ID: RuleHighRiskPeer, Class: ClassProof, Source: SourceReport, Weight: 3.6, Eval: highRiskPeer,
		Decay: Decay{Hold: 7 * 24 * time.Hour, Fade: 7 * 24 * time.Hour},
		Doc:   "a remote-access connection's peer is in a high-risk country (`geo.high_risk_countries`: KP, CN, RU, IR, SY, CU)"})
}

// highRiskPeer: a remote-access connection's peer is in a high-risk country.
func highRiskPeer(in Input) *pb.Evidence {
	var peers []string
	facts := map[string]string{}
	for _, p := range in.Report.GetPeers() {
		c := p.GetLocation().GetCountry()
		if !in.Config.highRisk(c) || in.Config.toolAllowed(p.GetToolId()) {
			continue
		}
		peers = append(peers, fmt.Sprintf("%s in %s (%s, AS%d %s)", p.GetIp(), place(p.GetLocation()), p.GetToolId(),
			p.GetLocation().GetAsn(), p.GetLocation().GetAsOrg()))
		facts["peer."+p.GetIp()] = c
	}
	if len(peers) == 0 {
		return nil
	}
	sort.Strings(peers)
	return in.evidence(RuleHighRiskPeer, "A remote-access tool is connected to "+strings.Join(peers, "; ")+".", facts)
}
