package analysis

import (
	"time"

	"github.com/farmwatch/farmwatch/collector/store"
)

func init() {
	register(RuleSpec{ID: RuleSpoolReset, Class: ClassWeak, Source: SourceIngest, Weight: 0.5,
		Decay: Decay{Hold: 7 * 24 * time.Hour, Fade: 7 * 24 * time.Hour},
		Doc:   "the agent's spool was created anew while its identity was kept (lost, deleted or restored from elsewhere): its sequence starts again"})
	ingestRules[store.EventSpoolReset] = RuleSpoolReset
}
