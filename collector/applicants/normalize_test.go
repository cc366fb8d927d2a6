package applicants

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

func TestNormalizePhone(t *testing.T) {
	tests := []struct {
		raw, country string
		want         *pb.NormalizedPhone
	}{
		{"+1 (512) 555-0199", "", &pb.NormalizedPhone{Raw: "+1 (512) 555-0199", E164: "+15125550199", Country: "US",
			Region: "Texas", LineType: "fixed_line_or_mobile", Format: "+d (ddd) ddd-dddd", Valid: true, International: true}},
		// The same number written the domestic way: only the format differs.
		{"512-555-0199", "US", &pb.NormalizedPhone{Raw: "512-555-0199", E164: "+15125550199", Country: "US",
			Region: "Texas", LineType: "fixed_line_or_mobile", Format: "ddd-ddd-dddd", Valid: true}},
		// Without a country code, a number is read in the claimed address's country.
		{"020 7946 0958", "GB", &pb.NormalizedPhone{Raw: "020 7946 0958", E164: "+442079460958", Country: "GB",
			Region: "London", LineType: "fixed_line", Format: "ddd dddd dddd", Valid: true}},
		{"+44 7400 123456", "US", &pb.NormalizedPhone{Raw: "+44 7400 123456", E164: "+447400123456", Country: "GB",
			Region: "United Kingdom", LineType: "mobile", Format: "+dd dddd dddddd", Valid: true, International: true}},
		{"+1 800 555 1212", "", &pb.NormalizedPhone{Raw: "+1 800 555 1212", E164: "+18005551212", Country: "US",
			Region: "United States", LineType: "toll_free", Format: "+d ddd ddd dddd", Valid: true, International: true}},
		// A number the metadata does not know is kept, marked invalid.
		{"+1 123 456 7890", "", &pb.NormalizedPhone{Raw: "+1 123 456 7890", E164: "+11234567890", LineType: "unknown",
			Format: "+d ddd ddd dddd", International: true}},
	}
	for _, tt := range tests {
		got, err := NormalizePhone(tt.raw, tt.country)
		if err != nil {
			t.Errorf("NormalizePhone(%q, %q): %v", tt.raw, tt.country, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got, protocmp.Transform()); diff != "" {
			t.Errorf("NormalizePhone(%q, %q) (-want +got):\n%s", tt.raw, tt.country, diff)
		}
	}
	for _, raw := range []string{"", "  ", "call me", "1", "555-CALL-NOW", strings.Repeat("5", 80), "++--"} {
		if p, err := NormalizePhone(raw, "US"); err == nil {
			t.Errorf("NormalizePhone(%q) = %v, want an error", raw, p)
		}
	}
}

func TestNormalizeEmail(t *testing.T) {
	tests := []struct {
		raw  string
		want *pb.NormalizedEmail
	}{
		{"Jane.Doe+jobs@GMail.com", &pb.NormalizedEmail{Raw: "Jane.Doe+jobs@GMail.com", Local: "Jane.Doe+jobs",
			Domain: "gmail.com", Canonical: "janedoe@gmail.com"}},
		{"janedoe@googlemail.com", &pb.NormalizedEmail{Raw: "janedoe@googlemail.com", Local: "janedoe",
			Domain: "googlemail.com", Canonical: "janedoe@gmail.com"}},
		// Outlook keeps dots significant but drops a +tag.
		{"jane.doe+x@outlook.com", &pb.NormalizedEmail{Raw: "jane.doe+x@outlook.com", Local: "jane.doe+x",
			Domain: "outlook.com", Canonical: "jane.doe@outlook.com"}},
		// Elsewhere a +tag may be part of the box's name.
		{"Jane.Doe+x@Example.ORG", &pb.NormalizedEmail{Raw: "Jane.Doe+x@Example.ORG", Local: "Jane.Doe+x",
			Domain: "example.org", Canonical: "jane.doe+x@example.org"}},
		{"x1@mailinator.com", &pb.NormalizedEmail{Raw: "x1@mailinator.com", Local: "x1", Domain: "mailinator.com",
			Canonical: "x1@mailinator.com", Disposable: true}},
		// A wildcard entry covers subdomains.
		{"x1@a.b.mailinator.com", &pb.NormalizedEmail{Raw: "x1@a.b.mailinator.com", Local: "x1", Domain: "a.b.mailinator.com",
			Canonical: "x1@a.b.mailinator.com", Disposable: true}},
	}
	for _, tt := range tests {
		got, err := NormalizeEmail(tt.raw)
		if err != nil {
			t.Errorf("NormalizeEmail(%q): %v", tt.raw, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got, protocmp.Transform()); diff != "" {
			t.Errorf("NormalizeEmail(%q) (-want +got):\n%s", tt.raw, diff)
		}
	}
	for _, raw := range []string{"", "jane", "jane@", "@x.com", "jane@localhost", "Jane <jane@x.com>", "a b@x.com",
		"jane@[10.0.0.1]", "jane@x.com, joe@y.com"} {
		if e, err := NormalizeEmail(raw); err == nil {
			t.Errorf("NormalizeEmail(%q) = %v, want an error", raw, e)
		}
	}
	if Disposable("gmail.com") || Disposable("example.org") {
		t.Error("gmail.com or example.org read as disposable")
	}
}

func TestAddressKey(t *testing.T) {
	same := [][]string{
		{"1200 Barton Springs Rd, Apt 4B, Austin, TX 78704",
			"1200 Barton Springs Road, Apartment 4B, Austin, Texas 78704-1234, USA",
			"1200 barton springs rd. #4b, austin tx 78704",
			"1200  Barton Springs Rd, Unit 4B, Austin, TX 78704",
			"1200 Barton Springs Rd # 4B, Austin, TX, 78704, United States"},
		{"55 Rue de l'Église, Montréal, QC", "55 rue de l’eglise, montreal, qc"},
		{"400 North Lamar Boulevard, Austin, TX", "400 N. Lamar Blvd, Austin, TX"},
	}
	for _, group := range same {
		want := AddressKey(group[0])
		for _, a := range group[1:] {
			if got := AddressKey(a); got != want {
				t.Errorf("AddressKey(%q) = %q, want %q as for %q", a, got, want, group[0])
			}
		}
	}
	differ := [][2]string{
		{"1200 Barton Springs Rd, Apt 4B, Austin, TX 78704", "1200 Barton Springs Rd, Apt 5B, Austin, TX 78704"},
		{"1200 Barton Springs Rd, Apt 4B, Austin, TX 78704", "1200 Barton Springs Rd, Austin, TX 78704"},
		{"1200 Barton Springs Rd, Austin, TX 78704", "1202 Barton Springs Rd, Austin, TX 78704"},
		{"12 Main St, Springfield, IL", "12 Main St, Springfield, MO"},
	}
	for _, d := range differ {
		if a, b := AddressKey(d[0]), AddressKey(d[1]); a == b {
			t.Errorf("AddressKey(%q) = AddressKey(%q) = %q: two places read as one", d[0], d[1], a)
		}
	}
}

func valid() *pb.Applicant {
	return &pb.Applicant{
		Id: "gh-1001", Name: "Ana Souza", Emails: []string{"Ana.Souza+jobs@gmail.com"},
		Phones: []string{"+1 (512) 555-0199", "512-555-0142"}, ClaimedAddress: "1200 Barton Springs Rd, Apt 4B, Austin, TX 78704",
		ShippingAddress: "77 Oak St, Round Rock, TX 78664", SubmissionIp: "::ffff:203.0.113.9",
		InterviewTimeZone: "America/Chicago", ProfileUrls: []string{"github.com/anasouza", "https://www.linkedin.com/in/anasouza"},
		WorkHistory: []*pb.WorkEntry{{Employer: "Initech", Title: "ML engineer", Start: "2021-03", End: "2024-06-30"}},
		Education:   []*pb.EducationEntry{{Institution: "University of São Paulo", Degree: "BSc", Start: "2014-02", End: "2018-12"}},
	}
}

func TestNormalize(t *testing.T) {
	a := valid()
	// Imported values of collector-set fields are discarded.
	a.AddressKey = "forged"
	a.PhonesNormalized = []*pb.NormalizedPhone{{E164: "+10000000000"}}
	if errs := Normalize(a); len(errs) > 0 {
		t.Fatalf("Normalize: %v", errs)
	}
	if a.GetClaimedPlace().GetPlace() != "Austin, TX, US" || a.GetClaimedPlace().GetTimeZone() != "America/Chicago" {
		t.Errorf("claimed_place = %v, want Austin, TX, US in America/Chicago", a.GetClaimedPlace())
	}
	if a.GetShippingPlace().GetPlace() != "Round Rock, TX, US" {
		t.Errorf("shipping_place = %v, want Round Rock, TX, US", a.GetShippingPlace())
	}
	if a.GetAddressKey() != "1200 barton springs rd austin tx 78704 #4b" || a.GetShippingKey() != "77 oak st round rock tx 78664" {
		t.Errorf("keys = %q, %q", a.GetAddressKey(), a.GetShippingKey())
	}
	if n := len(a.GetPhonesNormalized()); n != 2 || a.PhonesNormalized[0].GetE164() != "+15125550199" || a.PhonesNormalized[1].GetE164() != "+15125550142" {
		t.Errorf("phones_normalized = %v", a.GetPhonesNormalized())
	}
	if len(a.GetEmailsNormalized()) != 1 || a.EmailsNormalized[0].GetCanonical() != "anasouza@gmail.com" {
		t.Errorf("emails_normalized = %v", a.GetEmailsNormalized())
	}
	if a.GetSubmissionIp() != "203.0.113.9" {
		t.Errorf("submission_ip = %q, want the unmapped 203.0.113.9", a.GetSubmissionIp())
	}

	// Timestamps as exports write them are kept as dates.
	stamped := valid()
	stamped.WorkHistory[0].Start, stamped.Education[0].End = "2021-03-15T00:00:00.000Z", "2018-12-01T00:00:00Z"
	if errs := Normalize(stamped); len(errs) > 0 || stamped.WorkHistory[0].GetStart() != "2021-03-15" || stamped.Education[0].GetEnd() != "2018-12-01" {
		t.Errorf("timestamps: %v, work start %q, education end %q", errs, stamped.WorkHistory[0].GetStart(), stamped.Education[0].GetEnd())
	}

	// A phone without a country code is read in the claimed address's country.
	uk := &pb.Applicant{Id: "a2", Name: "Sam Hale", ClaimedAddress: "10 Downing Street, London, GB", Phones: []string{"020 7946 0958"}}
	if errs := Normalize(uk); len(errs) > 0 || uk.PhonesNormalized[0].GetCountry() != "GB" {
		t.Errorf("Normalize(%v): %v, phones %v: want a GB number", uk.GetClaimedAddress(), errs, uk.GetPhonesNormalized())
	}
	// An address the gazetteer cannot place is kept, unplaced, with its key.
	far := &pb.Applicant{Id: "a3", Name: "Lee Park", ClaimedAddress: "Flat 3, 9 Nowhere Lane, Qqqzzz"}
	if errs := Normalize(far); len(errs) > 0 || far.GetClaimedPlace() != nil || far.GetAddressKey() == "" {
		t.Errorf("unplaceable address: errs %v, place %v, key %q", errs, far.GetClaimedPlace(), far.GetAddressKey())
	}
}

func TestNormalizeNamesTheField(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(a *pb.Applicant)
		field string
	}{
		{"bad id", func(a *pb.Applicant) { a.Id = "a b" }, "id"},
		{"no name", func(a *pb.Applicant) { a.Name = " " }, "name"},
		{"bad phone", func(a *pb.Applicant) { a.Phones = []string{"+1 512 555 0199", "call me"} }, "phones[1]"},
		{"bad email", func(a *pb.Applicant) { a.Emails = []string{"ana at gmail"} }, "emails[0]"},
		{"garbage address", func(a *pb.Applicant) { a.ClaimedAddress = "12345 ---" }, "claimed_address"},
		{"blank address", func(a *pb.Applicant) { a.ClaimedAddress = "   " }, "claimed_address"},
		{"control characters", func(a *pb.Applicant) { a.ShippingAddress = "1 Main St\x00, Austin, TX" }, "shipping_address"},
		{"zone", func(a *pb.Applicant) { a.InterviewTimeZone = "CST" + "ish" }, "interview_time_zone"},
		{"local zone", func(a *pb.Applicant) { a.InterviewTimeZone = "Local" }, "interview_time_zone"},
		{"ip", func(a *pb.Applicant) { a.SubmissionIp = "203.0.113" }, "submission_ip"},
		{"ip zone", func(a *pb.Applicant) { a.SubmissionIp = "fe80::1%eth0" }, "submission_ip"},
		{"url", func(a *pb.Applicant) { a.ProfileUrls = []string{"ftp://x.org/me"} }, "profile_urls[0]"},
		{"work date", func(a *pb.Applicant) { a.WorkHistory[0].Start = "03/2021" }, "work_history[0].start"},
		{"work order", func(a *pb.Applicant) { a.WorkHistory[0].End = "2020-01" }, "work_history[0].end"},
		{"work employer", func(a *pb.Applicant) { a.WorkHistory[0].Employer = "" }, "work_history[0].employer"},
		{"education date", func(a *pb.Applicant) { a.Education[0].End = "2018-13" }, "education[0].end"},
		{"too many phones", func(a *pb.Applicant) { a.Phones = make([]string, maxList+1) }, "phones"},
		{"long name", func(a *pb.Applicant) { a.Name = strings.Repeat("a", maxText+1) }, "name"},
		{"not utf-8", func(a *pb.Applicant) { a.Role = "ML \xff engineer" }, "role"},
	}
	for _, tt := range tests {
		a := valid()
		tt.edit(a)
		errs := Normalize(a)
		var fields []string
		for _, e := range errs {
			fields = append(fields, e.Field)
		}
		if len(errs) != 1 || errs[0].Field != tt.field {
			t.Errorf("%s: errors on %v (%v), want exactly %s", tt.name, fields, errs, tt.field)
		}
	}
}
