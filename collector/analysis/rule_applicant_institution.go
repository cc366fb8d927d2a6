package analysis

import (
	"fmt"
	"strings"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

func init() {
	register(RuleSpec{ID: RuleApplicantInstitution, Class: ClassWeak, Source: SourceApplicant, Weight: 2.5,
		Applicant: applicantInstitution, Decay: applicantDecay,
		Doc: "an employer or school is a listed front company or institution (`collector/analysis/institutions.csv`, romanization variants folded; the row and its source cited)"})
}

// applicantInstitution matches employers and schools against the list the
// hire rule uses, by whole words under the romanization-neutral key.
func applicantInstitution(c *applicantCase) *pb.Evidence {
	var hits []string
	facts := map[string]string{}
	check := func(field, name string) {
		m, ok := matchInstitution(name)
		if !ok {
			return
		}
		how := "its listed name"
		if m.Listed != m.Name {
			how = fmt.Sprintf("its alias %q", m.Listed)
		}
		hits = append(hits, fmt.Sprintf("%s %q, whose words %q match %s (%s) by %s (source: %s)", field, name, m.Matched, m.Name, m.Country, how, m.Source))
		facts[field+": "+name] = m.Name
	}
	for _, w := range c.e.a.GetWorkHistory() {
		check("employer", w.GetEmployer())
	}
	for _, ed := range c.e.a.GetEducation() {
		check("school", ed.GetInstitution())
	}
	if len(hits) == 0 {
		return nil
	}
	return c.evidence(RuleApplicantInstitution, 1, "The application names "+strings.Join(hits, "; ")+".", facts)
}
