package applicants

import (
	"errors"
	"fmt"
	"strings"
	"unicode"

	"github.com/nyaruka/phonenumbers"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// NormalizePhone reads a phone number as written with libphonenumber's
// metadata; a number without a country code is read in country (ISO 3166-1
// alpha-2, "US" when empty). How it was written is kept, digits masked, as a
// fact: "+1 (512) 555-0199" and "512-555-0199" are one number written two ways.
// A number the metadata does not know is returned with Valid false; text that
// is not a phone number at all is an error.
func NormalizePhone(raw, country string) (*pb.NormalizedPhone, error) {
	if country == "" {
		country = "US"
	}
	t := strings.TrimSpace(raw)
	if t == "" {
		return nil, errors.New("empty")
	}
	if len(t) > 64 {
		return nil, fmt.Errorf("%d bytes: not a phone number", len(t))
	}
	for _, r := range t {
		// Letters are refused except an extension marker: vanity numbers do
		// not belong on an application form, and a name in the phone column
		// is a shifted export.
		if unicode.IsLetter(r) && !strings.ContainsRune("extEXT", r) {
			return nil, fmt.Errorf("%q: letters in a phone number", raw)
		}
	}
	n, err := phonenumbers.Parse(t, country)
	if err != nil {
		return nil, fmt.Errorf("%q: %v", raw, err)
	}
	kind := phonenumbers.GetNumberType(n)
	p := &pb.NormalizedPhone{
		Raw:      raw,
		E164:     phonenumbers.Format(n, phonenumbers.E164),
		Country:  phonenumbers.GetRegionCodeForNumber(n),
		LineType: lineType(kind),
		Format:   maskDigits(t),
		// IsValidNumber is exactly "the number's region's metadata gives it a
		// type"; asking again would repeat the costliest lookup.
		Valid:         kind != phonenumbers.UNKNOWN,
		International: strings.HasPrefix(t, "+"),
	}
	if p.Valid {
		if g, err := phonenumbers.GetGeocodingForNumber(n, "en"); err == nil {
			p.Region = g
		}
	}
	return p, nil
}

func maskDigits(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return 'd'
		}
		return r
	}, s)
}

func lineType(t phonenumbers.PhoneNumberType) string {
	switch t {
	case phonenumbers.FIXED_LINE:
		return "fixed_line"
	case phonenumbers.MOBILE:
		return "mobile"
	case phonenumbers.FIXED_LINE_OR_MOBILE:
		return "fixed_line_or_mobile"
	case phonenumbers.TOLL_FREE:
		return "toll_free"
	case phonenumbers.PREMIUM_RATE:
		return "premium"
	case phonenumbers.SHARED_COST:
		return "shared_cost"
	case phonenumbers.VOIP:
		return "voip"
	case phonenumbers.PERSONAL_NUMBER:
		return "personal"
	case phonenumbers.PAGER:
		return "pager"
	case phonenumbers.UAN:
		return "uan"
	case phonenumbers.VOICEMAIL:
		return "voicemail"
	}
	return "unknown"
}
