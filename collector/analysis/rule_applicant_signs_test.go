package analysis

import (
	"testing"

	"github.com/farmwatch/farmwatch/geo"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

func TestApplicantInstitution(t *testing.T) {
	runApplicantRule(t, RuleApplicantInstitution, []applicantRuleCase{
		{name: "transliterated front company", apps: []*pb.Applicant{mkApplicant("A1", "Ann Lee", withJob("Jinyong I.T. Cooperation Co., Ltd", "2018-01", ""))},
			want: 2.5, says: "Chinyong Information Technology Cooperation Company"},
		{name: "the source is cited", apps: []*pb.Applicant{mkApplicant("A1", "Ann Lee", withJob("Chinyong Information Technology Cooperation Company", "2018-01", ""))},
			want: 2.5, says: "source: U.S. Treasury OFAC"},
		{name: "a foreign school that is not listed", apps: []*pb.Applicant{mkApplicant("A1", "Ann Lee", withSchool("Seoul National University"))}},
		{name: "a word of a listed name is not the name", apps: []*pb.Applicant{mkApplicant("A1", "Ann Lee", withJob("Jinyong Noodle House", "2018-01", ""))}},
	})
}

func TestApplicantPhoneFormat(t *testing.T) {
	runApplicantRule(t, RuleApplicantPhoneFormat, []applicantRuleCase{
		{name: "domestic, written nationally", apps: []*pb.Applicant{mkApplicant("A1", "Ann Lee", withUSPhone("+15125550101"))}},
		{name: "domestic, written +1", apps: []*pb.Applicant{mkApplicant("A1", "Ann Lee",
			withPhone("+1 512 555 0101", "+15125550101", "US", "Texas", "fixed_line_or_mobile", true))}, want: 0.25, says: "weak alone"},
		{name: "a number of another country", apps: []*pb.Applicant{mkApplicant("A1", "Ann Lee",
			withPhone("+82 10 2345 6789", "+821023456789", "KR", "South Korea", "mobile", true))}, want: 1.5, says: "a number of KR"},
		{name: "a Korean number for a Seoul address", apps: []*pb.Applicant{mkApplicant("A1", "Ann Lee", func(a *pb.Applicant) {
			a.ClaimedPlace = &pb.ClaimedHome{Place: "Seoul, KR", Country: "KR", TimeZone: "Asia/Seoul"}
		}, withPhone("+82 10 2345 6789", "+821023456789", "KR", "South Korea", "mobile", true))}},
	})
}

func TestApplicantGeo(t *testing.T) {
	nets := map[string]geo.Location{
		"203.0.113.0/24":  {Country: "US", City: "Austin", Latitude: 30.27, Longitude: -97.74, HasCoords: true, AccuracyKM: 20},
		"198.51.100.0/24": {Country: "US", City: "Seattle", Latitude: 47.61, Longitude: -122.33, HasCoords: true, AccuracyKM: 20},
		"192.0.2.0/24":    {Country: "CN", City: "Shenyang", Latitude: 41.8, Longitude: 123.4, HasCoords: true, AccuracyKM: 50},
		"100.64.0.0/24":   {Country: "NL", Anonymizer: "vpn"},
	}
	seattlePhone := withPhone("206-555-0142", "+12065550142", "US", "Washington State", "fixed_line_or_mobile", false)
	runApplicantRule(t, RuleApplicantGeo, []applicantRuleCase{
		{name: "consistent", locate: nets, apps: []*pb.Applicant{mkApplicant("A1", "Ann Lee", withIP("203.0.113.5"), withZone("America/Chicago"),
			withPhone("(512) 218-4455", "+15122184455", "US", "Round Rock, TX", "fixed_line_or_mobile", false))}},
		{name: "a relocation: the old area code", locate: nets, apps: []*pb.Applicant{mkApplicant("A1", "Ann Lee", seattlePhone, withIP("203.0.113.5"))},
			want: 0.5, says: "Washington State"},
		{name: "a declared agency's number is the recruiter's desk", yaml: "applicants:\n  agencies:\n    - name: Lone Star Staffing\n      phones: [\"+12065550142\"]\n",
			locate: nets, apps: []*pb.Applicant{mkApplicant("A1", "Ann Lee", seattlePhone, withIP("203.0.113.5"))}},
		{name: "interview zone far off", apps: []*pb.Applicant{mkApplicant("A1", "Ann Lee", withZone("Asia/Shanghai"))}, want: 1, says: "Asia/Shanghai"},
		{name: "an hour off is a neighbour's zone", apps: []*pb.Applicant{mkApplicant("A1", "Ann Lee", withZone("America/Denver"))}},
		{name: "submitted from abroad", locate: nets, apps: []*pb.Applicant{mkApplicant("A1", "Ann Lee", withIP("192.0.2.9"))}, want: 1, says: "Shenyang"},
		{name: "submitted from far in the country", locate: nets, apps: []*pb.Applicant{mkApplicant("A1", "Ann Lee", withIP("198.51.100.9"))}, want: 0.5},
		{name: "a VPN's exit says nothing", locate: nets, apps: []*pb.Applicant{mkApplicant("A1", "Ann Lee", withIP("100.64.0.9"))}},
		{name: "everything disagrees: capped", locate: nets, apps: []*pb.Applicant{mkApplicant("A1", "Ann Lee", seattlePhone,
			withIP("192.0.2.9"), withZone("Asia/Shanghai"))}, want: 2.5, says: "2.5 units"},
	})
}

func TestApplicantContactKinds(t *testing.T) {
	runApplicantRule(t, RuleApplicantDisposable, []applicantRuleCase{
		{name: "disposable", apps: []*pb.Applicant{mkApplicant("A1", "Ann Lee", withEmail("x@mailinator.com", true))}, want: 0.75, says: "x@mailinator.com"},
		{name: "ordinary", apps: []*pb.Applicant{mkApplicant("A1", "Ann Lee", withEmail("x@gmail.com", false))}},
	})
	runApplicantRule(t, RuleApplicantVoIP, []applicantRuleCase{
		{name: "voip", apps: []*pb.Applicant{mkApplicant("A1", "Ann Lee", withPhone("+44 56 1234 5678", "+445612345678", "GB", "United Kingdom", "voip", true))},
			want: 0.75, says: "VoIP"},
		{name: "mobile", apps: []*pb.Applicant{mkApplicant("A1", "Ann Lee", withUSPhone("+15125550101"))}},
	})
}
