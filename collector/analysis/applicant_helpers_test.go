package analysis

import (
	"net/netip"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/farmwatch/farmwatch/geo"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// Normalised applicants built by hand, as collector/applicants.Normalize
// would fill them.

var appliedAt = time.Date(2026, 3, 2, 15, 0, 0, 0, time.UTC)

type appOpt func(*pb.Applicant)

var austinPlace = &pb.ClaimedHome{Place: "Austin, TX, US", Country: "US", Latitude: 30.2672, Longitude: -97.7431, TimeZone: "America/Chicago"}

// mkApplicant is an applicant claiming an Austin flat with a domestic
// phone and an email of its own, and no history.
func mkApplicant(id, name string, opts ...appOpt) *pb.Applicant {
	a := &pb.Applicant{Id: id, Name: name, ClaimedAddress: "1 " + id + " St, Austin, TX", ClaimedPlace: austinPlace,
		AddressKey: "1 " + id + " st austinPlace tx", AppliedAt: timestamppb.New(appliedAt)}
	for _, o := range opts {
		o(a)
	}
	return a
}

func withPhone(raw, e164, country, region, line string, intl bool) appOpt {
	return func(a *pb.Applicant) {
		a.Phones = append(a.Phones, raw)
		a.PhonesNormalized = append(a.PhonesNormalized, &pb.NormalizedPhone{Raw: raw, E164: e164, Country: country,
			Region: region, LineType: line, Valid: true, International: intl, Format: "masked"})
	}
}

// withUSPhone is a domestic Texas number written nationally.
func withUSPhone(e164 string) appOpt {
	return withPhone(e164[2:], e164, "US", "Texas", "fixed_line_or_mobile", false)
}

func withEmail(canonical string, disposable bool) appOpt {
	return func(a *pb.Applicant) {
		a.Emails = append(a.Emails, canonical)
		at := len(canonical)
		for i := range canonical {
			if canonical[i] == '@' {
				at = i
			}
		}
		a.EmailsNormalized = append(a.EmailsNormalized, &pb.NormalizedEmail{Raw: canonical, Canonical: canonical,
			Local: canonical[:at], Domain: canonical[min(at+1, len(canonical)):], Disposable: disposable})
	}
}

func withAddressKey(k string) appOpt {
	return func(a *pb.Applicant) { a.AddressKey = k; a.ClaimedAddress = k }
}
func withShippingKey(k string) appOpt {
	return func(a *pb.Applicant) { a.ShippingKey = k; a.ShippingAddress = k }
}
func withIP(ip string) appOpt  { return func(a *pb.Applicant) { a.SubmissionIp = ip } }
func withZone(z string) appOpt { return func(a *pb.Applicant) { a.InterviewTimeZone = z } }
func withRefs(r ...string) appOpt {
	return func(a *pb.Applicant) { a.References = append(a.References, r...) }
}
func withURLs(u ...string) appOpt {
	return func(a *pb.Applicant) { a.ProfileUrls = append(a.ProfileUrls, u...) }
}
func withResume(text string) appOpt { return func(a *pb.Applicant) { a.ResumeText = text } }
func withSchool(name string) appOpt {
	return func(a *pb.Applicant) { a.Education = append(a.Education, &pb.EducationEntry{Institution: name}) }
}
func withJob(employer, start, desc string) appOpt {
	return func(a *pb.Applicant) {
		a.WorkHistory = append(a.WorkHistory, &pb.WorkEntry{Employer: employer, Title: "Engineer", Start: start, Description: desc})
	}
}

// locator answers from a table of networks, as geo.Reader would.
func locator(nets map[string]geo.Location) func(netip.Addr) geo.Location {
	return func(a netip.Addr) geo.Location {
		for c, l := range nets {
			if netip.MustParsePrefix(c).Contains(a) {
				l.IP, l.Geolocatable = a, true
				return l
			}
		}
		return geo.Location{IP: a}
	}
}

// screenOf indexes the applicants and screens the first.
func screenOf(t testing.TB, env ApplicantEnv, apps ...*pb.Applicant) ApplicantScreen {
	t.Helper()
	x := NewApplicantIndex(env)
	for _, a := range apps {
		x.Put(a)
	}
	return x.Screen(apps[0].GetId(), appliedAt.Add(24*time.Hour))
}

func configWith(t testing.TB, yaml string) func() *Config {
	t.Helper()
	cfg, err := ParseConfig([]byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	return func() *Config { return &cfg }
}

// lineOf returns the screening's line of a rule, or nil.
func lineOf(s ApplicantScreen, rule string) *pb.Evidence {
	for _, ev := range s.Evidence {
		if ev.GetRule() == rule {
			return ev
		}
	}
	return nil
}

// applicantRuleCase is one row of an applicant rule's table test: the
// first applicant is screened against the others.
type applicantRuleCase struct {
	name   string
	yaml   string
	locate map[string]geo.Location
	apps   []*pb.Applicant
	// want is the line's weight before fading (0: no line); says is a part
	// of its explanation.
	want float64
	says string
}

func runApplicantRule(t *testing.T, rule string, cases []applicantRuleCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := ApplicantEnv{Config: configWith(t, tc.yaml)}
			if tc.locate != nil {
				env.Locate = locator(tc.locate)
			}
			s := screenOf(t, env, tc.apps...)
			ev := lineOf(s, rule)
			switch {
			case tc.want == 0 && ev != nil:
				t.Fatalf("%s fired (%.3f): %s", rule, ev.GetFreshWeight(), ev.GetExplanation())
			case tc.want == 0:
				return
			case ev == nil:
				t.Fatalf("%s did not fire; evidence: %v", rule, s.Evidence)
			}
			if d := ev.GetFreshWeight() - tc.want; d > 1e-9 || d < -1e-9 {
				t.Errorf("weight %.4f, want %.4f (%s)", ev.GetFreshWeight(), tc.want, ev.GetExplanation())
			}
			if !contains(ev.GetExplanation(), tc.says) {
				t.Errorf("explanation %q does not say %q", ev.GetExplanation(), tc.says)
			}
			if ev.GetClass() != string(ClassWeak) || ev.GetDecay() == "" {
				t.Errorf("class %q decay %q", ev.GetClass(), ev.GetDecay())
			}
		})
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}
