package analysis

import (
	"fmt"
	"math"
	"net/netip"
	"strings"

	"github.com/farmwatch/farmwatch/geo"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

func init() {
	register(RuleSpec{ID: RuleApplicantGeo, Class: ClassWeak, Source: SourceApplicant, Weight: 1.0,
		Applicant: applicantGeo, Decay: applicantDecay,
		MaxFactor: func(c *Config) float64 { return c.Applicants.MaxGeoFactor },
		Doc:       "the claimed address disagrees with the interview zone's UTC offset (1 unit), the submission IP's country (1; far in the same country 0.5) or the phone's region in the same country (0.5); weight x units"})
}

// applicantGeo weighs the places an application shows against the claimed
// address. A phone region alone is half a unit: people keep their number
// when they move. The phone's country is applicant.phone_format's, not
// counted here twice.
func applicantGeo(c *applicantCase) *pb.Evidence {
	a := c.e.a
	home := a.GetClaimedPlace()
	if home.GetCountry() == "" {
		return nil
	}
	var units float64
	var why []string
	facts := map[string]string{"claimed_place": home.GetPlace()}
	for _, p := range a.GetPhonesNormalized() {
		if _, agency := c.cfg.agencyPhone(p.GetE164()); agency {
			continue // the recruiter's desk, not the candidate's home
		}
		if p.GetValid() && p.GetCountry() == home.GetCountry() && p.GetRegion() != "" && !regionMatches(p.GetRegion(), home.GetPlace(), home.GetCountry()) {
			units += 0.5
			why = append(why, fmt.Sprintf("the phone %s is a number of %s (0.5)", p.GetRaw(), p.GetRegion()))
			facts["phone_region"] = p.GetRegion()
			break
		}
	}
	if loc, ok := c.submissionPlace(); ok {
		switch {
		case loc.Country != "" && loc.Country != home.GetCountry():
			units++
			why = append(why, fmt.Sprintf("the application was submitted from %s, an IP in %s (1)", a.GetSubmissionIp(), placeOf(loc)))
			facts["ip_country"] = loc.Country
		case loc.HasCoords && home.GetLatitude() != 0:
			d := geo.DistanceKM(home.GetLatitude(), home.GetLongitude(), loc.Latitude, loc.Longitude)
			if d-loc.AccuracyKM > c.cfg.Geo.FarKM {
				units += 0.5
				why = append(why, fmt.Sprintf("the application was submitted from %s, an IP in %s, %.0f km away (0.5)", a.GetSubmissionIp(), placeOf(loc), d))
				facts["ip_distance_km"] = fmt.Sprintf("%.0f", d)
			}
		}
	}
	if z := a.GetInterviewTimeZone(); z != "" {
		claimed := home.GetTimeZone()
		if claimed == "" && (home.GetLatitude() != 0 || home.GetLongitude() != 0) {
			claimed = geo.ZoneAt(home.GetLatitude(), home.GetLongitude())
		}
		at := c.e.at
		if at.IsZero() {
			at = c.now
		}
		if claimed != "" {
			if _, offA, offB, err := geo.OffsetDiffers(z, claimed, at); err == nil &&
				math.Abs(float64(offA-offB)) >= c.cfg.Applicants.ZoneOffsetHours*3600 {
				units++
				why = append(why, fmt.Sprintf("the interview was scheduled in %s (UTC%+.1f h), the claimed place's zone %s is UTC%+.1f h (1)",
					z, float64(offA)/3600, claimed, float64(offB)/3600))
				facts["interview_zone"] = z
			}
		}
	}
	if units == 0 {
		return nil
	}
	f := math.Min(units, c.cfg.Applicants.MaxGeoFactor)
	facts["units"] = trimFloat(units)
	return c.evidence(RuleApplicantGeo, f, fmt.Sprintf("The claimed address %q (%s) disagrees with the application: %s; %s unit%s, weight x%s.",
		a.GetClaimedAddress(), home.GetPlace(), strings.Join(why, "; "), trimFloat(units), plural(int(math.Ceil(units)), "", "s"), trimFloat(f)), facts)
}

// submissionPlace locates the submission IP when its place says where the
// applicant was: not the company's or a declared agency's network, not an
// anonymizer (a VPN's exit is the VPN's place).
func (c *applicantCase) submissionPlace() (geo.Location, bool) {
	ip, err := netip.ParseAddr(strings.TrimSpace(c.e.a.GetSubmissionIp()))
	if err != nil || c.x.env.Locate == nil || c.cfg.companyEgress(ip.String()) || c.cfg.agencyNetwork(ip) {
		return geo.Location{}, false
	}
	loc := c.x.env.Locate(ip)
	if !loc.Geolocatable || loc.Range != "" || loc.Anonymizer != "" {
		return geo.Location{}, false
	}
	return loc, true
}

func placeOf(l geo.Location) string {
	var parts []string
	for _, p := range []string{l.City, l.Region, l.Country} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, ", ")
}

// regionMatches tells whether a phone number's region ("Texas", "Round
// Rock, TX", "Washington State") lies in the claimed place's state ("Austin,
// TX, US"). Only US states are compared; a region that names no state (the
// whole country) says nothing and matches.
func regionMatches(region, place, country string) bool {
	if country != "US" {
		return true
	}
	parts := strings.Split(place, ",")
	if len(parts) > 1 {
		parts = parts[:len(parts)-1] // the country
	}
	p, h := stateOf(strings.Split(region, ",")), stateOf(parts)
	return p == "" || h == "" || p == h
}

// stateOf finds a US state, by postal code or name, among the parts of a
// place's name; the first of several parts is a city ("Washington, DC").
func stateOf(parts []string) string {
	if len(parts) > 1 {
		parts = parts[1:]
	}
	for _, s := range parts {
		s = strings.TrimSuffix(strings.TrimSpace(s), " State")
		if _, ok := usStates[s]; ok {
			return s
		}
		for code, name := range usStates {
			if strings.EqualFold(s, name) {
				return code
			}
		}
	}
	return ""
}

// usStates maps the postal abbreviations the numbering metadata uses for
// US places to the names the gazetteer uses.
var usStates = map[string]string{"AL": "Alabama", "AK": "Alaska", "AZ": "Arizona", "AR": "Arkansas", "CA": "California",
	"CO": "Colorado", "CT": "Connecticut", "DE": "Delaware", "DC": "District of Columbia", "FL": "Florida", "GA": "Georgia",
	"HI": "Hawaii", "ID": "Idaho", "IL": "Illinois", "IN": "Indiana", "IA": "Iowa", "KS": "Kansas", "KY": "Kentucky",
	"LA": "Louisiana", "ME": "Maine", "MD": "Maryland", "MA": "Massachusetts", "MI": "Michigan", "MN": "Minnesota",
	"MS": "Mississippi", "MO": "Missouri", "MT": "Montana", "NE": "Nebraska", "NV": "Nevada", "NH": "New Hampshire",
	"NJ": "New Jersey", "NM": "New Mexico", "NY": "New York", "NC": "North Carolina", "ND": "North Dakota", "OH": "Ohio",
	"OK": "Oklahoma", "OR": "Oregon", "PA": "Pennsylvania", "RI": "Rhode Island", "SC": "South Carolina",
	"SD": "South Dakota", "TN": "Tennessee", "TX": "Texas", "UT": "Utah", "VT": "Vermont", "VA": "Virginia",
	"WA": "Washington", "WV": "West Virginia", "WI": "Wisconsin", "WY": "Wyoming"}
