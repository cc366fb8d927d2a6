package analysis

import (
	"time"

	"github.com/farmwatch/farmwatch/collector/store"
)

func init() {
	register(RuleSpec{ID: RuleSeqJump, Class: ClassWeak, Source: SourceIngest, Weight: 1.0,
		Decay: Decay{Hold: 7 * 24 * time.Hour, Fade: 7 * 24 * time.Hour},
		Doc:   "a report's sequence number jumped past anything the agent's spool could have held, and was refused"})
	ingestRules[store.EventSeqJump] = RuleSeqJump
}
