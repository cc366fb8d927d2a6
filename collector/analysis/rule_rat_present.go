package analysis

import (
	"fmt"
	"sort"
	"strings"
	"time"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

func init() {
	register(RuleSpec{ID: RuleRATPresent, Class: ClassWeak, Source: SourceReport, Weight: 1.0, Eval: ratPresent,
		Decay: Decay{Hold: 24 * time.Hour, Fade: 48 * time.Hour},
		Doc:   "a catalogued remote-access tool runs (not the company's sanctioned one, `allow.tools`)"})
}

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
		if in.Config.toolAllowed(p.GetToolId()) {
			continue
		}
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
	return in.evidence(RuleRATPresent, text, facts)
}
