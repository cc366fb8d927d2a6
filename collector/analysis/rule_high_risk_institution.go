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
// The explanation cites the row: the listed name, the spelling that matched,
// the words of the record it matched and the row's source.
func highRiskInstitution(in Input) *pb.Evidence {
	var hits []string
	facts := map[string]string{}
	for _, inst := range in.Hire.GetInstitutions() {
		if m, ok := matchInstitution(inst); ok {
			how := "its listed name"
			if m.Listed != m.Name {
				how = fmt.Sprintf("its alias %q", m.Listed)
			}
			hits = append(hits, fmt.Sprintf("%q, whose words %q match %s by %s (source: %s)", inst, m.Matched, m.Name, how, m.Source))
			facts[inst] = m.Name
		}
	}
	if len(hits) == 0 {
		return nil
	}
	return in.evidence(RuleHighRiskInstitute, "The hire record lists "+strings.Join(hits, "; ")+".", facts)
}
