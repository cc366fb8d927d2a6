package analysis

import (
	"fmt"
	"time"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

func init() {
	register(RuleSpec{ID: RuleSilent, Class: ClassWeak, Source: SourceSweep, Weight: 0.5,
		Decay: Decay{Hold: 12 * time.Hour, Fade: 12 * time.Hour},
		Doc:   "no report for `silence.intervals` (6) of the collector's report intervals, and never less than `silence.min_silent` (24 h): a laptop asleep overnight is not silent"})
}

// silentEvidence is what the sweep remembers of an agent that stopped
// reporting at last.
func silentEvidence(cfg *Config, last, now time.Time) *pb.Evidence {
	return &pb.Evidence{Rule: RuleSilent, Weight: cfg.Weights[RuleSilent],
		Explanation: fmt.Sprintf("The agent has not reported since %s (%s, more than %s).",
			last.UTC().Format(time.RFC3339), now.Sub(last).Round(time.Minute), cfg.silenceAfter()),
		Facts: map[string]string{"last_report": last.UTC().Format(time.RFC3339)}}
}

// silenceEnded rewrites the silence line when the agent is back, so the
// reviewer reads how long it was away.
func silenceEnded(m *Memory, back time.Time) {
	if m == nil {
		return
	}
	since := m.Facts["last_report"]
	if t, err := time.Parse(time.RFC3339, since); err == nil {
		m.Explanation = fmt.Sprintf("The agent did not report from %s to %s (%s).", since, back.UTC().Format(time.RFC3339),
			back.Sub(t).Round(time.Minute))
	}
}
