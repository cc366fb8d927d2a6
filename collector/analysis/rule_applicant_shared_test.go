package analysis

import (
	"testing"

	"github.com/farmwatch/farmwatch/geo"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

func TestApplicantSharedPhone(t *testing.T) {
	ph := withUSPhone("+15125550199")
	agency := "applicants:\n  agencies:\n    - name: Lone Star Staffing\n      domains: [lonestarstaff.example]\n      phones: [\"+15125550199\"]\n      networks: [198.51.100.0/24]\n"
	runApplicantRule(t, RuleApplicantSharedPhone, []applicantRuleCase{
		{name: "alone", apps: []*pb.Applicant{mkApplicant("A1", "Ann Lee", ph)}},
		{name: "one other identity", apps: []*pb.Applicant{mkApplicant("A1", "Ann Lee", ph), mkApplicant("A2", "Bo Park", ph)},
			want: 1.25, says: "phone +15125550199 with A2 (Bo Park)"},
		{name: "three others weigh x2", apps: []*pb.Applicant{mkApplicant("A1", "Ann Lee", ph), mkApplicant("A2", "Bo Park", ph),
			mkApplicant("A3", "Cy Ode", ph), mkApplicant("A4", "Di Ruiz", ph)}, want: 2.5, says: "across 3 other identities"},
		{name: "two others x1.5", apps: []*pb.Applicant{mkApplicant("A1", "Ann Lee", ph), mkApplicant("A2", "Bo Park", ph),
			mkApplicant("A3", "Cy Ode", ph)}, want: 1.875},
		{name: "the same identity applying again", apps: []*pb.Applicant{
			mkApplicant("A1", "Ann Lee", ph, withJob("Initech", "2020-01", "")),
			mkApplicant("A2", "ann  LEE", ph, withJob("Initech Inc.", "2020-01-15", ""))}},
		{name: "a common name with another history is another identity", apps: []*pb.Applicant{
			mkApplicant("A1", "Ann Lee", ph, withJob("Initech", "2020-01", "")),
			mkApplicant("A2", "Ann Lee", ph, withJob("Globex", "2019-03", ""))}, want: 1.25},
		{name: "a declared agency's own number", yaml: agency,
			apps: []*pb.Applicant{mkApplicant("A1", "Ann Lee", ph), mkApplicant("A2", "Bo Park", ph)}},
	})
}

func TestApplicantSharedEmail(t *testing.T) {
	agency := "applicants:\n  agencies:\n    - name: Lone Star Staffing\n      domains: [lonestarstaff.example]\n"
	runApplicantRule(t, RuleApplicantSharedEmail, []applicantRuleCase{
		{name: "shared canonical", apps: []*pb.Applicant{mkApplicant("A1", "Ann Lee", withEmail("jobs4u@gmail.com", false)),
			mkApplicant("A2", "Bo Park", withEmail("jobs4u@gmail.com", false))}, want: 1.25, says: "email jobs4u@gmail.com with A2 (Bo Park)"},
		{name: "different", apps: []*pb.Applicant{mkApplicant("A1", "Ann Lee", withEmail("ann@gmail.com", false)),
			mkApplicant("A2", "Bo Park", withEmail("bo@gmail.com", false))}},
		{name: "a declared agency's mailbox", yaml: agency, apps: []*pb.Applicant{
			mkApplicant("A1", "Ann Lee", withEmail("recruit@lonestarstaff.example", false)),
			mkApplicant("A2", "Bo Park", withEmail("recruit@lonestarstaff.example", false))}},
	})
}

func TestApplicantSharedAddress(t *testing.T) {
	runApplicantRule(t, RuleApplicantSharedAddress, []applicantRuleCase{
		{name: "roommates", apps: []*pb.Applicant{mkApplicant("A1", "Ann Lee", withAddressKey("12 oak st austin tx 78704 #3")),
			mkApplicant("A2", "Bo Park", withAddressKey("12 oak st austin tx 78704 #3"))}, want: 1.0, says: "12 oak st"},
		{name: "another flat of the building", apps: []*pb.Applicant{mkApplicant("A1", "Ann Lee", withAddressKey("12 oak st austin tx 78704 #3")),
			mkApplicant("A2", "Bo Park", withAddressKey("12 oak st austin tx 78704 #4"))}},
		{name: "one's claimed home is others' shipping address", apps: []*pb.Applicant{
			mkApplicant("A1", "Ann Lee", withAddressKey("9 elm st dallas tx")),
			mkApplicant("A2", "Bo Park", withShippingKey("9 elm st dallas tx")),
			mkApplicant("A3", "Cy Ode", withShippingKey("9 elm st dallas tx"))}, want: 1.5, says: "A2 (Bo Park), A3 (Cy Ode)"},
	})
}

func TestApplicantSharedIP(t *testing.T) {
	var carrierASN uint32
	if cs := geo.Carriers(); len(cs) > 0 {
		carrierASN = cs[0].ASN
	}
	nets := map[string]geo.Location{"203.0.113.0/24": {Country: "US", ASN: 64500}, "192.0.2.0/24": {Country: "US", ASN: carrierASN}}
	pair := func(ip string) []*pb.Applicant {
		return []*pb.Applicant{mkApplicant("A1", "Ann Lee", withIP(ip)), mkApplicant("A2", "Bo Park", withIP(ip))}
	}
	runApplicantRule(t, RuleApplicantSharedIP, []applicantRuleCase{
		{name: "a home line", locate: nets, apps: pair("203.0.113.7"), want: 0.75, says: "submission IP 203.0.113.7"},
		{name: "a mobile carrier's CGNAT", locate: nets, apps: pair("192.0.2.7")},
		{name: "the company's egress", yaml: "allow:\n  egress_cidrs: [203.0.113.0/24]\n", locate: nets, apps: pair("203.0.113.7")},
		{name: "a declared agency's network", yaml: "applicants:\n  agencies:\n    - name: Lone Star Staffing\n      networks: [203.0.113.7]\n",
			locate: nets, apps: pair("203.0.113.7")},
		{name: "a private address", apps: pair("10.1.2.3")},
	})
}

func TestApplicantSharedReference(t *testing.T) {
	runApplicantRule(t, RuleApplicantSharedReference, []applicantRuleCase{
		{name: "one profile URL spelled two ways", apps: []*pb.Applicant{
			mkApplicant("A1", "Ann Lee", withURLs("https://www.linkedin.com/in/jdev42/")),
			mkApplicant("A2", "Bo Park", withURLs("linkedin.com/in/jdev42?trk=x"))}, want: 1.0, says: "reference linkedin.com/in/jdev42 with A2"},
		{name: "one reference by phone", apps: []*pb.Applicant{
			mkApplicant("A1", "Ann Lee", withRefs("+1 (512) 555-0111")), mkApplicant("A2", "Bo Park", withRefs("512.555.0111"))}, want: 1.0},
		{name: "different profiles", apps: []*pb.Applicant{
			mkApplicant("A1", "Ann Lee", withURLs("github.com/annlee")), mkApplicant("A2", "Bo Park", withURLs("github.com/bopark"))}},
	})
}
