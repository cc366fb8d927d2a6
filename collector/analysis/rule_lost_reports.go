package analysis

import (
	"fmt"
	"time"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

func init() {
	register(RuleSpec{ID: RuleLostReports, Class: ClassWeak, Source: SourceReport, Weight: 0.5, Eval: lostReports,
		Decay: Decay{Hold: 24 * time.Hour, Fade: 48 * time.Hour},
		Doc:   "the agent lost reports since its last one: dropped by its spool's cap, or never spooled (disk full)"})
}

// lostReports: the agent says it lost reports. A full disk or a spool held
// past its cap hides what the laptop did meanwhile; honest machines fill
// their disks too, so it is weak.
func lostReports(in Input) *pb.Evidence {
	h := in.Report.GetReport().GetHealth()
	if h == nil {
		return nil
	}
	total := h.GetDropped() + h.GetUnspooled()
	if total <= in.State.LostReports {
		return nil // the counters restart with the agent: a lower count is no loss
	}
	lost := total - in.State.LostReports
	return in.evidence(RuleLostReports,
		fmt.Sprintf("The agent lost %d report(s) since its previous one (%d dropped by the spool's cap in all, %d it could not spool since it started).",
			lost, h.GetDropped(), h.GetUnspooled()),
		map[string]string{"lost": fmt.Sprint(lost), "dropped": fmt.Sprint(h.GetDropped()), "unspooled": fmt.Sprint(h.GetUnspooled())})
}
