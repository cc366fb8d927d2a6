package analysis

import (
	"time"

	"github.com/farmwatch/farmwatch/collector/store"
)

func init() {
	register(RuleSpec{ID: RuleOverBudget, Class: ClassWeak, Source: SourceIngest, Weight: 1.0,
		Decay: Decay{Hold: 7 * 24 * time.Hour, Fade: 7 * 24 * time.Hour},
		Doc:   "the device sent more report bytes in one day than its budget, and the rest was refused"})
	ingestRules[store.EventOverBudget] = RuleOverBudget
}
