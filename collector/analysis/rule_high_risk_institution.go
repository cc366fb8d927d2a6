package analysis

import (
	"fmt"
	"strings"
	"time"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

func init() {
	register(RuleSpec{ID: RuleHighRiskInstitute, Class: ClassWeak, Source: SourceReport, Weight: 2.5, Eval: highRiskInstitution,
		Decay: Decay{Hold: 30 * 24 * time.Hour, Fade: 0},
		Doc:   "the hire record names a listed front company (`collector/analysis/institutions.csv`, sources in the file)"})
}

// highRiskInstitution: the record names a listed front company or institution.
func highRiskInstitution(in Input) *pb.Evidence {
	var hits []string
	facts := map[string]string{}
	for _, inst := range in.Hire.GetInstitutions() {
		if e, ok := matchInstitution(inst); ok {
			hits = append(hits, fmt.Sprintf("%q matches %s (%s)", inst, e.Name, e.Source))
			facts[inst] = e.Name
		}
	}
	if len(hits) == 0 {
		return nil
	}
	return in.evidence(RuleHighRiskInstitute, "The hire record lists "+strings.Join(hits, "; ")+".", facts)
}
