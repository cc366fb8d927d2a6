package analysis

import (
	"fmt"
	"slices"
	"strings"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

func init() {
	register(RuleSpec{ID: RuleApplicantSimilarHistory, Class: ClassWeak, Source: SourceApplicant, Weight: 1.25,
		Applicant: similarHistory, Decay: applicantDecay, MaxFactor: func(c *Config) float64 { return c.Applicants.MaxShareFactor },
		Doc: "different identities' work histories or résumés are near-duplicates (MinHash estimate of the Jaccard similarity of word triples at least applicants.similarity_threshold)"})
}

// similarHistory: a ring writes its members' histories from one template.
// Honest people rarely share most of their word triples; a résumé service
// can make two alike, so one pair is weak, and more copies weigh more.
func similarHistory(c *applicantCase) *pb.Evidence {
	var sims []similarEntry
	for _, s := range c.x.similar(c.e, c.cfg) {
		if !sameIdentity(c.e, s.e) {
			sims = append(sims, s)
		}
	}
	if len(sims) == 0 {
		return nil
	}
	slices.SortFunc(sims, func(a, b similarEntry) int {
		if a.sim != b.sim {
			if a.sim > b.sim {
				return -1
			}
			return 1
		}
		return strings.Compare(a.e.a.GetId(), b.e.a.GetId())
	})
	var parts, facts []string
	others := make([]*applicantEntry, 0, len(sims))
	for i, s := range sims {
		others = append(others, s.e)
		facts = append(facts, fmt.Sprintf("%s=%.2f", s.e.a.GetId(), s.sim))
		if i < 10 {
			parts = append(parts, fmt.Sprintf("%s (%s) at %.0f%%", s.e.a.GetId(), s.e.a.GetName(), 100*s.sim))
		}
	}
	if len(sims) > 10 {
		parts = append(parts, fmt.Sprintf("and %d more", len(sims)-10))
	}
	_, n := distinctIdentities([]sharing{{others: others}})
	f := c.shareFactor(n)
	text := fmt.Sprintf("The work history and résumé text are near-duplicates of those of %s (estimated Jaccard similarity of word triples; threshold %.0f%%; weight x%s).",
		strings.Join(parts, ", "), 100*c.cfg.Applicants.SimilarityThreshold, trimFloat(f))
	return c.evidence(RuleApplicantSimilarHistory, f, text, map[string]string{"similarity": strings.Join(facts, ","),
		"others": ids(others), "identities": fmt.Sprint(n)}, others...)
}
