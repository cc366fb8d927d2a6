package analysis

import (
	"fmt"
	"strings"
	"time"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

func init() {
	register(RuleSpec{ID: RulePhoneFormat, Class: ClassWeak, Source: SourceReport, Weight: 0.25, Eval: phoneFormat,
		Decay:     Decay{Hold: 30 * 24 * time.Hour, Fade: 0},
		Doc:       "the phone number is written \"+1 ...\" (weak alone); x6 when its country code is not the claimed home's",
		MaxFactor: func(c *Config) float64 { return c.Hire.PhoneMismatchFactor }})
}

// phoneFormat: "+1" formatting alone is a weak sign (DESIGN: it means nothing
// alone); a country code that is not the claimed home's weighs more.
func phoneFormat(in Input) *pb.Evidence {
	ph := strings.TrimSpace(in.Hire.GetPhone())
	if !strings.HasPrefix(ph, "+") {
		return nil
	}
	digits := strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, ph)
	home := in.Hire.GetHome().GetCountry()
	want := callingCodes[home]
	if want != "" && !strings.HasPrefix(digits, want) {
		ev := in.evidence(RulePhoneFormat,
			fmt.Sprintf("The phone number %s does not carry the claimed home country's code +%s.", ph, want),
			map[string]string{"phone": ph, "claimed_country": home})
		ev.Weight *= in.Config.Hire.PhoneMismatchFactor
		return ev
	}
	if !strings.HasPrefix(ph, "+1") {
		return nil
	}
	return in.evidence(RulePhoneFormat,
		fmt.Sprintf("The phone number is written in international form (%s), unusual for a domestic US applicant; weak alone.", ph),
		map[string]string{"phone": ph})
}

// callingCodes of the countries whose numbers a hire might give; enough to
// tell a foreign number from a domestic one.
var callingCodes = map[string]string{"US": "1", "CA": "1", "GB": "44", "DE": "49", "FR": "33", "NL": "31", "PT": "351",
	"ES": "34", "IT": "39", "PL": "48", "UA": "380", "RU": "7", "CN": "86", "KP": "850", "KR": "82", "JP": "81",
	"IN": "91", "PK": "92", "VN": "84", "PH": "63", "LA": "856", "KH": "855", "MY": "60", "SG": "65", "TH": "66",
	"AE": "971", "NG": "234", "BR": "55", "MX": "52", "AU": "61", "IR": "98"}
