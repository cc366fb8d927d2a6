package analysis

import (
	"fmt"
	"net/netip"
	"strings"
)

// ApplicantConfig is the `applicants:` block of the analysis config: the
// thresholds of the cross-application rules and the staffing agencies the
// company works with (docs/APPLICANTS.md).
type ApplicantConfig struct {
	// SimilarityThreshold is the estimated Jaccard similarity of two work
	// histories (or résumés) at which applicant.similar_history fires.
	SimilarityThreshold float64 `yaml:"similarity_threshold"`
	// MinShingles: a history shorter than this many word triples is too
	// short to call a copy.
	MinShingles int `yaml:"min_shingles"`
	// ShareFactorStep is what each further identity sharing a detail adds
	// to a shared-detail rule's weight (a multiple), up to MaxShareFactor.
	ShareFactorStep float64 `yaml:"share_factor_step"`
	MaxShareFactor  float64 `yaml:"max_share_factor"`
	// ZoneOffsetHours: an interview zone whose UTC offset differs from the
	// claimed place's by this many hours or more is inconsistent.
	ZoneOffsetHours float64 `yaml:"zone_offset_hours"`
	// MaxGeoFactor caps applicant.geo_inconsistent's multiple.
	MaxGeoFactor float64 `yaml:"max_geo_factor"`
	// Agencies are the staffing agencies declared as such: their own
	// contacts and networks never tie the candidates they submit.
	Agencies []Agency `yaml:"agencies"`
}

// Agency is one declared staffing agency.
type Agency struct {
	Name string `yaml:"name"`
	// Domains of the agency's email addresses ("example-staffing.com").
	Domains []string `yaml:"domains"`
	// Phones in E.164 ("+15125550100").
	Phones []string `yaml:"phones"`
	// Networks it submits applications from (CIDRs or addresses).
	Networks []string `yaml:"networks"`
}

func (c *ApplicantConfig) check() error {
	switch {
	case c.SimilarityThreshold <= 0 || c.SimilarityThreshold > 1:
		return fmt.Errorf("applicants.similarity_threshold must lie in (0, 1]")
	case c.MinShingles < 1:
		return fmt.Errorf("applicants.min_shingles must be at least 1")
	case c.ShareFactorStep < 0 || c.MaxShareFactor < 1 || c.MaxGeoFactor < 1:
		return fmt.Errorf("applicants: share_factor_step must not be negative, max_share_factor and max_geo_factor not under 1")
	case c.ZoneOffsetHours <= 0:
		return fmt.Errorf("applicants.zone_offset_hours must be positive")
	}
	for i := range c.Agencies {
		ag := &c.Agencies[i]
		if strings.TrimSpace(ag.Name) == "" {
			return fmt.Errorf("applicants.agencies[%d]: a name is required", i)
		}
		for j, d := range ag.Domains {
			ag.Domains[j] = strings.ToLower(strings.TrimSpace(d))
			if ag.Domains[j] == "" || strings.ContainsAny(ag.Domains[j], "@ /") {
				return fmt.Errorf("applicants.agencies %q: domains: %q is not a domain", ag.Name, d)
			}
		}
		for _, p := range ag.Phones {
			if !isE164(p) {
				return fmt.Errorf("applicants.agencies %q: phones: %q is not E.164 (+ and 8 to 15 digits)", ag.Name, p)
			}
		}
	}
	return nil
}

func isE164(p string) bool {
	if len(p) < 9 || len(p) > 16 || p[0] != '+' || p[1] == '0' {
		return false
	}
	for _, r := range p[1:] {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

func parsePrefix(s string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(strings.TrimSpace(s))
	if err != nil {
		a, aerr := netip.ParseAddr(strings.TrimSpace(s))
		if aerr != nil {
			return netip.Prefix{}, fmt.Errorf("%q is not a CIDR or address", s)
		}
		p = netip.PrefixFrom(a, a.BitLen())
	}
	return p.Masked(), nil
}

// agencyPhone, agencyEmail and agencyNetwork tell whether a contact is a
// declared agency's own: those tie candidates only through the agency.
func (c *Config) agencyPhone(e164 string) (string, bool) {
	for _, ag := range c.Applicants.Agencies {
		for _, p := range ag.Phones {
			if p == e164 {
				return ag.Name, true
			}
		}
	}
	return "", false
}

func (c *Config) agencyEmail(canonical string) (string, bool) {
	at := strings.LastIndexByte(canonical, '@')
	if at < 0 {
		return "", false
	}
	domain := canonical[at+1:]
	for _, ag := range c.Applicants.Agencies {
		for _, d := range ag.Domains {
			if domain == d || strings.HasSuffix(domain, "."+d) {
				return ag.Name, true
			}
		}
	}
	return "", false
}

func (c *Config) agencyNetwork(a netip.Addr) bool {
	for _, p := range c.agencyNets {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
