package analysis

import (
	"fmt"
	"sort"
	"strings"
	"time"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

func init() {
	register(RuleSpec{ID: RuleRemoteSession, Class: ClassWeak, Source: SourceReport, Weight: 1.0, Eval: remoteSession,
		Decay: Decay{Hold: 48 * time.Hour, Fade: 48 * time.Hour},
		Doc:   "a remote login session, or a catalogued tool connected to a public peer"})
}

// remoteSession: someone is in the laptop remotely right now: a remote login
// session, or a catalogued tool with an established connection to a public peer.
func remoteSession(in Input) *pb.Evidence {
	r := in.Report.GetReport()
	var signs []string
	for _, s := range r.GetRemoteAccess().GetSessions() {
		switch s.GetType() {
		case "rdp", "vnc", "ssh", "screen-sharing", "remote":
			d := s.GetType() + " session"
			if s.GetRemoteHost() != "" {
				d += " from " + s.GetRemoteHost()
			}
			signs = append(signs, d)
		}
	}
	for _, p := range in.Report.GetPeers() {
		if !in.Config.toolAllowed(p.GetToolId()) {
			signs = append(signs, fmt.Sprintf("%s connected to %s", p.GetToolId(), p.GetIp()))
		}
	}
	if len(signs) == 0 {
		return nil
	}
	sort.Strings(signs)
	return in.evidence(RuleRemoteSession, "A remote session is active: "+strings.Join(signs, "; ")+".",
		map[string]string{"sessions": fmt.Sprint(len(signs))})
}
