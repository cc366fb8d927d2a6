package applicants

import (
	"errors"
	"io"
	"os"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// readFuzz reads any input in format f: applicants that come through are
// whole (id, name, collector-set fields consistent), every row error names a
// line and its fields, lines never go back, and nothing panics.
func readFuzz(t *testing.T, in string, f Format) {
	r, err := NewReader(strings.NewReader(in), f)
	if err != nil {
		return
	}
	last := 0
	for range 10000 {
		a, line, err := r.Next()
		if errors.Is(err, io.EOF) {
			return
		}
		var re *RowError
		switch {
		case errors.As(err, &re):
			if re.Line < 1 || len(re.Errs) == 0 {
				t.Fatalf("row error without a line or field: %+v", re)
			}
			for _, fe := range re.Errs {
				if fe.Field == "" || fe.Why == "" {
					t.Fatalf("line %d: field error without a field or reason: %+v", re.Line, fe)
				}
			}
		case err != nil:
			if !strings.Contains(err.Error(), "line ") {
				t.Fatalf("error ending the file names no line: %v", err)
			}
			return
		default:
			if a.GetId() == "" || strings.TrimSpace(a.GetName()) == "" {
				t.Fatalf("line %d: an applicant without id or name came through: %v", line, a)
			}
			if len(a.GetPhonesNormalized()) != len(a.GetPhones()) || len(a.GetEmailsNormalized()) != len(a.GetEmails()) {
				t.Fatalf("line %d: phones or emails left unnormalised: %v", line, a)
			}
			if (a.GetClaimedAddress() == "") != (a.GetAddressKey() == "") {
				t.Fatalf("line %d: address %q has key %q", line, a.GetClaimedAddress(), a.GetAddressKey())
			}
		}
		if line < last {
			t.Fatalf("line %d after line %d", line, last)
		}
		last = line
	}
}

func addFixture(f *testing.F, path string) {
	b, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(string(b))
}

func FuzzReadCSV(f *testing.F) {
	addFixture(f, "testdata/applicants.csv")
	addFixture(f, "testdata/bad.csv")
	f.Add("id,name\n")
	f.Add("\ufeffid,name,work_history\na,A,\"[{\"\"employer\"\":\"\"X\"\"}]\"\n")
	f.Add("id,name,phones\na,A,\"+1 (512) 555-0199;;\"\nb,B\n")
	f.Fuzz(func(t *testing.T, in string) { readFuzz(t, in, FormatCSV) })
}

func FuzzReadJSONL(f *testing.F) {
	addFixture(f, "testdata/applicants.jsonl")
	addFixture(f, "testdata/bad.jsonl")
	f.Add(`{"id":"a","name":"A","phonesNormalized":[{"e164":"+1"}]}` + "\n\n")
	f.Add(`{"id":"a","name":"A","appliedAt":"not a time"}`)
	f.Fuzz(func(t *testing.T, in string) { readFuzz(t, in, FormatJSONL) })
}

func FuzzReadGreenhouse(f *testing.F) {
	addFixture(f, "testdata/candidates.json")
	addFixture(f, "testdata/bad_candidates.json")
	f.Add(`[]`)
	f.Add(`[{"id":"x1","first_name":"A","custom_fields":{"agency":{"value":3}},"keyed_custom_fields":{"submission_ip":{"value":"::1"}}}]`)
	f.Add(`[{"id":1,"first_name":"A"} {"id":2}]`)
	f.Fuzz(func(t *testing.T, in string) { readFuzz(t, in, FormatGreenhouse) })
}

// FuzzNormalize: any applicant gives field errors or a normalised one, never
// a panic, and normalising again changes nothing.
func FuzzNormalize(f *testing.F) {
	f.Add("a-1", "Ana Souza", "Ana.Souza+jobs@gmail.com", "+1 (512) 555-0199", "1200 Barton Springs Rd, Apt 4B, Austin, TX 78704",
		"77 Oak St, Round Rock, TX 78664", "America/Chicago", "::ffff:203.0.113.9", "2021-03")
	f.Add("b", "B", "x@mailinator.com", "020 7946 0958", "10 Downing Street, London, GB", "", "Europe/London", "2001:db8::1", "2021-03-01")
	f.Add("", "", "@", "+", "#", "#", "Local", "1.2.3.4%x", "2021-13")
	f.Fuzz(func(t *testing.T, id, name, email, phone, addr, ship, zone, ip, start string) {
		a := &pb.Applicant{Id: id, Name: name, Emails: []string{email}, Phones: []string{phone}, ClaimedAddress: addr,
			ShippingAddress: ship, InterviewTimeZone: zone, SubmissionIp: ip,
			WorkHistory: []*pb.WorkEntry{{Employer: "Initech", Start: start}}}
		errs := Normalize(a)
		for _, e := range errs {
			if e.Field == "" || e.Why == "" {
				t.Fatalf("field error without a field or reason: %+v", e)
			}
		}
		if len(errs) > 0 {
			return
		}
		again := proto.Clone(a).(*pb.Applicant)
		if errs := Normalize(again); len(errs) > 0 || !proto.Equal(a, again) {
			t.Fatalf("normalising twice differs: %v\n%v\n%v", errs, a, again)
		}
	})
}
