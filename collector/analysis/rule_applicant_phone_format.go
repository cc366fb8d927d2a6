package analysis

import (
	"fmt"
	"slices"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

func init() {
	register(RuleSpec{ID: RuleApplicantPhoneFormat, Class: ClassWeak, Source: SourceApplicant, Weight: 0.25,
		Applicant: applicantPhoneFormat, Decay: applicantDecay,
		MaxFactor: func(c *Config) float64 { return c.Hire.PhoneMismatchFactor },
		Doc:       "a domestic number is written \"+1 ...\" (weak alone: immigrants and travellers write it so); x hire.phone_mismatch_factor when the number's country is not the claimed address's"})
}

// nanp are the countries of the North American Numbering Plan whose
// residents rarely write their own numbers with "+1".
var nanp = []string{"US", "CA"}

// applicantPhoneFormat mirrors hire.phone_format on the normalised phones:
// the country comes from the number's metadata, not its first digits.
func applicantPhoneFormat(c *applicantCase) *pb.Evidence {
	a := c.e.a
	home := a.GetClaimedPlace().GetCountry()
	var plus *pb.NormalizedPhone
	for _, p := range a.GetPhonesNormalized() {
		if !p.GetInternational() || p.GetCountry() == "" {
			continue
		}
		if home != "" && p.GetCountry() != home {
			return c.evidence(RuleApplicantPhoneFormat, c.cfg.Hire.PhoneMismatchFactor,
				fmt.Sprintf("The phone number %s is a number of %s, not of the claimed address's country %s.", p.GetRaw(), p.GetCountry(), home),
				map[string]string{"phone": p.GetRaw(), "phone_country": p.GetCountry(), "claimed_country": home, "format": p.GetFormat()})
		}
		if plus == nil && slices.Contains(nanp, p.GetCountry()) {
			plus = p
		}
	}
	if plus == nil {
		return nil
	}
	return c.evidence(RuleApplicantPhoneFormat, 1,
		fmt.Sprintf("The phone number is written in international form (%s, written %q), unusual for a domestic applicant; weak alone.", plus.GetRaw(), plus.GetFormat()),
		map[string]string{"phone": plus.GetRaw(), "format": plus.GetFormat()})
}
