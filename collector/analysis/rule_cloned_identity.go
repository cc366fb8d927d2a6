package analysis

import (
	"time"

	"github.com/farmwatch/farmwatch/collector/store"
)

func init() {
	register(RuleSpec{ID: RuleClonedIdentity, Class: ClassWeak, Source: SourceIngest, Weight: 2.0,
		Decay: Decay{Hold: 7 * 24 * time.Hour, Fade: 7 * 24 * time.Hour},
		Doc:   "a second machine reports with the device's identity: a resent report differs from the stored one, or two spools take turns"})
	ingestRules[store.EventClonedIdentity] = RuleClonedIdentity
}
