package applicants

import (
	"fmt"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"
	// Interview zones are checked against the zone database this binary
	// carries, not the host's, so every collector agrees on what is a zone.
	_ "time/tzdata"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// Bounds on one applicant: a row past them is refused, never truncated.
const (
	maxText   = 512      // one name, address, email, phone, URL, role, ...
	maxList   = 64       // emails, phones, URLs, references, work and education entries
	maxResume = 64 << 10 // the résumé text
	maxDesc   = 4 << 10  // one work entry's description
)

var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// normalize is Normalize; see applicants.go.
func normalize(a *pb.Applicant) []FieldError {
	var errs []FieldError
	bad := func(field, format string, args ...any) {
		errs = append(errs, FieldError{field, fmt.Sprintf(format, args...)})
	}
	a.PhonesNormalized, a.EmailsNormalized = nil, nil
	a.ClaimedPlace, a.ShippingPlace = nil, nil
	a.AddressKey, a.ShippingKey = "", ""

	for _, f := range []struct{ name, v string }{
		{"name", a.GetName()}, {"claimed_address", a.GetClaimedAddress()},
		{"shipping_address", a.GetShippingAddress()}, {"role", a.GetRole()}, {"agency", a.GetAgency()},
		{"submission_ip", a.GetSubmissionIp()}, {"interview_time_zone", a.GetInterviewTimeZone()},
	} {
		checkText(f.name, f.v, maxText, bad)
	}
	checkText("resume_text", a.GetResumeText(), maxResume, bad)
	for _, l := range []struct {
		name string
		n    int
	}{{"emails", len(a.GetEmails())}, {"phones", len(a.GetPhones())}, {"profile_urls", len(a.GetProfileUrls())},
		{"references", len(a.GetReferences())}, {"work_history", len(a.GetWorkHistory())}, {"education", len(a.GetEducation())}} {
		if l.n > maxList {
			bad(l.name, "%d entries, limit %d", l.n, maxList)
		}
	}
	if len(errs) > 0 {
		// Past a bound nothing else is worth reading: the row is refused as a whole.
		return errs
	}
	if !idPattern.MatchString(a.GetId()) {
		bad("id", "%q: use 1-64 letters, digits, '.', '_' or '-'", a.GetId())
	}
	if strings.TrimSpace(a.GetName()) == "" {
		bad("name", "missing")
	}

	// The claimed address first: a phone written without a country code is
	// read in its country.
	country := "US"
	if addr := a.GetClaimedAddress(); addr != "" {
		if why := garbageAddress(addr); why != "" {
			bad("claimed_address", "%q: %s", addr, why)
		} else {
			if p, ok := placeAddress(addr, ""); ok {
				a.ClaimedPlace = claimedHome(p)
				country = p.Country
			}
			a.AddressKey = AddressKey(addr)
		}
	}
	if addr := a.GetShippingAddress(); addr != "" {
		if why := garbageAddress(addr); why != "" {
			bad("shipping_address", "%q: %s", addr, why)
		} else {
			if p, ok := placeAddress(addr, country); ok {
				a.ShippingPlace = claimedHome(p)
			}
			a.ShippingKey = AddressKey(addr)
		}
	}
	for i, raw := range a.GetPhones() {
		p, err := NormalizePhone(raw, country)
		if err != nil {
			bad(fmt.Sprintf("phones[%d]", i), "%v", err)
			continue
		}
		a.PhonesNormalized = append(a.PhonesNormalized, p)
	}
	for i, raw := range a.GetEmails() {
		e, err := NormalizeEmail(raw)
		if err != nil {
			bad(fmt.Sprintf("emails[%d]", i), "%v", err)
			continue
		}
		a.EmailsNormalized = append(a.EmailsNormalized, e)
	}
	if z := a.GetInterviewTimeZone(); z != "" {
		if err := checkZone(z); err != nil {
			bad("interview_time_zone", "%q: %v", z, err)
		}
	}
	if s := a.GetSubmissionIp(); s != "" {
		ip, err := netip.ParseAddr(strings.TrimSpace(s))
		if err != nil || ip.Zone() != "" {
			bad("submission_ip", "%q: not an IP address", s)
		} else {
			// One spelling per address, so two applications from it compare equal.
			a.SubmissionIp = ip.Unmap().String()
		}
	}
	for i, u := range a.GetProfileUrls() {
		checkText(fmt.Sprintf("profile_urls[%d]", i), u, maxText, bad)
		if err := checkURL(u); err != nil {
			bad(fmt.Sprintf("profile_urls[%d]", i), "%q: %v", u, err)
		}
	}
	for i, r := range a.GetReferences() {
		checkText(fmt.Sprintf("references[%d]", i), r, maxText, bad)
	}
	for i, w := range a.GetWorkHistory() {
		f := fmt.Sprintf("work_history[%d]", i)
		checkText(f+".employer", w.GetEmployer(), maxText, bad)
		checkText(f+".title", w.GetTitle(), maxText, bad)
		checkText(f+".description", w.GetDescription(), maxDesc, bad)
		if strings.TrimSpace(w.GetEmployer()) == "" {
			bad(f+".employer", "missing")
		}
		w.Start, w.End = dateOnly(w.GetStart()), dateOnly(w.GetEnd())
		checkSpan(f, w.GetStart(), w.GetEnd(), bad)
	}
	for i, e := range a.GetEducation() {
		f := fmt.Sprintf("education[%d]", i)
		checkText(f+".institution", e.GetInstitution(), maxText, bad)
		checkText(f+".degree", e.GetDegree(), maxText, bad)
		if strings.TrimSpace(e.GetInstitution()) == "" {
			bad(f+".institution", "missing")
		}
		e.Start, e.End = dateOnly(e.GetStart()), dateOnly(e.GetEnd())
		checkSpan(f, e.GetStart(), e.GetEnd(), bad)
	}
	return errs
}

func checkText(field, v string, limit int, bad func(string, string, ...any)) {
	switch {
	case len(v) > limit:
		bad(field, "%d bytes, limit %d", len(v), limit)
	case !utf8.ValidString(v):
		bad(field, "not UTF-8")
	}
}

// garbageAddress says why an address cannot be one: an address the gazetteer
// cannot place is still kept (its key is compared), but text without a
// letter, or with control characters, is a mistake in the export.
func garbageAddress(s string) string {
	if strings.TrimSpace(s) == "" {
		return "blank"
	}
	letters := 0
	for _, r := range s {
		if unicode.IsControl(r) && r != '\n' && r != '\t' {
			return "control characters"
		}
		if unicode.IsLetter(r) {
			letters++
		}
	}
	if letters < 2 {
		return "no street, city or country in it"
	}
	return ""
}

// knownZones remembers zone names already checked: loading a zone reads the
// embedded database, and an import names the same few zones again and again.
var knownZones sync.Map

func checkZone(z string) error {
	if _, ok := knownZones.Load(z); ok {
		return nil
	}
	// "Local" is this collector's zone, not the applicant's.
	if z == "Local" || strings.TrimSpace(z) != z {
		return fmt.Errorf("not an IANA zone (e.g. America/Chicago)")
	}
	if _, err := time.LoadLocation(z); err != nil {
		return fmt.Errorf("not an IANA zone (e.g. America/Chicago)")
	}
	knownZones.Store(z, true)
	return nil
}

func checkURL(s string) error {
	t := strings.TrimSpace(s)
	if t == "" {
		return fmt.Errorf("empty")
	}
	if !strings.Contains(t, "://") {
		// "github.com/someone" as applicants write it.
		t = "https://" + t
	}
	u, err := url.Parse(t)
	if err != nil {
		return fmt.Errorf("not a URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("scheme %q: want http or https", u.Scheme)
	}
	if !strings.Contains(u.Hostname(), ".") {
		return fmt.Errorf("no host name")
	}
	return nil
}

// checkSpan checks a work or education entry's dates: YYYY-MM or YYYY-MM-DD,
// end (empty: current) not before start.
func checkSpan(field, start, end string, bad func(string, string, ...any)) {
	s, sok := parseDate(start)
	if start != "" && !sok {
		bad(field+".start", "%q: want YYYY-MM or YYYY-MM-DD", start)
	}
	e, eok := parseDate(end)
	if end != "" && !eok {
		bad(field+".end", "%q: want YYYY-MM or YYYY-MM-DD", end)
	}
	if sok && eok && e.Before(s) {
		bad(field+".end", "%s is before start %s", end, start)
	}
}

// dateOnly turns a timestamp as ATS exports write them
// ("2012-08-15T00:00:00.000Z") into its UTC date; anything else is kept.
func dateOnly(s string) string {
	if len(s) > 10 && s[10] == 'T' {
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			return t.UTC().Format("2006-01-02")
		}
	}
	return s
}

func parseDate(s string) (time.Time, bool) {
	for _, layout := range []string{"2006-01-02", "2006-01"} {
		if len(s) == len(layout) {
			if t, err := time.Parse(layout, s); err == nil {
				return t, true
			}
		}
	}
	return time.Time{}, false
}
