package analysis

import (
	"net/netip"
	"strings"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// The shared-detail rules: different identities (docs/APPLICANTS.md) that
// share a phone, an email, an address, a submission IP or a reference. Each
// is weak alone (roommates share an address and a network; colleagues a
// reference); each further identity sharing the detail adds
// applicants.share_factor_step of the weight, up to max_share_factor.

func init() {
	shareMax := func(c *Config) float64 { return c.Applicants.MaxShareFactor }
	register(RuleSpec{ID: RuleApplicantSharedPhone, Class: ClassWeak, Source: SourceApplicant, Weight: 1.25,
		Applicant: sharedPhone, Decay: applicantDecay, MaxFactor: shareMax,
		Doc: "different identities give the same phone number (E.164), a declared agency's own numbers excepted; more weight as more share it"})
	register(RuleSpec{ID: RuleApplicantSharedEmail, Class: ClassWeak, Source: SourceApplicant, Weight: 1.25,
		Applicant: sharedEmail, Decay: applicantDecay, MaxFactor: shareMax,
		Doc: "different identities give the same email address (canonical: case, and dots and +tags where the provider ignores them), a declared agency's domains excepted"})
	register(RuleSpec{ID: RuleApplicantSharedAddress, Class: ClassWeak, Source: SourceApplicant, Weight: 1.0,
		Applicant: sharedAddress, Decay: applicantDecay, MaxFactor: shareMax,
		Doc: "different identities claim or ship to the same flat (addresses normalised for comparison; two flats of one building differ)"})
	register(RuleSpec{ID: RuleApplicantSharedIP, Class: ClassWeak, Source: SourceApplicant, Weight: 0.75,
		Applicant: sharedIP, Decay: applicantDecay, MaxFactor: shareMax,
		Doc: "different identities applied from the same IP address, except the company's networks, declared agencies' networks and mobile carriers (CGNAT)"})
	register(RuleSpec{ID: RuleApplicantSharedReference, Class: ClassWeak, Source: SourceApplicant, Weight: 1.0,
		Applicant: sharedReference, Decay: applicantDecay, MaxFactor: shareMax,
		Doc: "different identities name the same reference or give the same profile URL"})
}

func sharedPhone(c *applicantCase) *pb.Evidence {
	return c.sharedEvidence(RuleApplicantSharedPhone, "phone", c.shared(keyPhone, func(v string) bool {
		_, agency := c.cfg.agencyPhone(v)
		return agency
	}), nil)
}

func sharedEmail(c *applicantCase) *pb.Evidence {
	return c.sharedEvidence(RuleApplicantSharedEmail, "email", c.shared(keyEmail, func(v string) bool {
		_, agency := c.cfg.agencyEmail(v)
		return agency
	}), nil)
}

func sharedAddress(c *applicantCase) *pb.Evidence {
	return c.sharedEvidence(RuleApplicantSharedAddress, "address", c.shared(keyAddress, nil), func(key string) string {
		return addressAsWritten(c.e.a, key)
	})
}

// addressAsWritten shows an address key as the applicant wrote it.
func addressAsWritten(a *pb.Applicant, key string) string {
	switch key {
	case a.GetAddressKey():
		return `"` + a.GetClaimedAddress() + `"`
	case a.GetShippingKey():
		return `"` + a.GetShippingAddress() + `" (shipping)`
	}
	return key
}

func sharedIP(c *applicantCase) *pb.Evidence {
	return c.sharedEvidence(RuleApplicantSharedIP, "submission IP", c.shared(keyIP, c.ipExcluded), nil)
}

// ipExcluded: an address that ties nobody: the company's own networks, a
// declared agency's, a mobile carrier's CGNAT pool (by ASN), or a special
// range.
func (c *applicantCase) ipExcluded(v string) bool {
	a, err := netip.ParseAddr(v)
	if err != nil || c.cfg.companyEgress(v) || c.cfg.agencyNetwork(a) {
		return true
	}
	if !a.IsGlobalUnicast() || a.IsPrivate() {
		return true
	}
	if c.x.env.Locate != nil {
		loc := c.x.env.Locate(a)
		return loc.Range != "" || c.cfg.excludedASN(loc.ASN)
	}
	return false
}

func sharedReference(c *applicantCase) *pb.Evidence {
	return c.sharedEvidence(RuleApplicantSharedReference, "reference", c.shared(keyRef, nil), func(v string) string {
		return v[strings.IndexByte(v, ':')+1:] // "url:", "email:", "phone:" or "name:"
	})
}
