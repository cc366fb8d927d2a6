package analysis

import (
	"fmt"
	"strings"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

func init() {
	register(RuleSpec{ID: RuleApplicantDisposable, Class: ClassWeak, Source: SourceApplicant, Weight: 0.75,
		Applicant: disposableEmail, Decay: applicantDecay,
		Doc: "an email address is at a disposable-mail domain (the embedded list, with its source)"})
	register(RuleSpec{ID: RuleApplicantVoIP, Class: ClassWeak, Source: SourceApplicant, Weight: 0.75,
		Applicant: voipPhone, Decay: applicantDecay,
		Doc: "a phone number is in a range the numbering metadata marks as VoIP"})
}

// disposableEmail: a throwaway address is cheap to make per application.
func disposableEmail(c *applicantCase) *pb.Evidence {
	var hits []string
	for _, m := range c.e.a.GetEmailsNormalized() {
		if m.GetDisposable() {
			hits = append(hits, m.GetRaw())
		}
	}
	if len(hits) == 0 {
		return nil
	}
	return c.evidence(RuleApplicantDisposable, 1,
		fmt.Sprintf("The email address %s is at a disposable-mail domain.", strings.Join(hits, ", ")),
		map[string]string{"emails": strings.Join(hits, ",")})
}

// voipPhone: a VoIP number is not tied to a place or a subscriber check.
func voipPhone(c *applicantCase) *pb.Evidence {
	var hits []string
	for _, p := range c.e.a.GetPhonesNormalized() {
		if p.GetLineType() == "voip" {
			hits = append(hits, p.GetRaw())
		}
	}
	if len(hits) == 0 {
		return nil
	}
	return c.evidence(RuleApplicantVoIP, 1,
		fmt.Sprintf("The phone number %s is a VoIP number by the numbering plan's metadata.", strings.Join(hits, ", ")),
		map[string]string{"phones": strings.Join(hits, ",")})
}
