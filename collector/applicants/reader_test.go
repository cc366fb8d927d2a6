package applicants

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"testing"
)

// readAll reads a fixture, returning the applicants' ids and every row error
// as "line N: field" strings.
func readAll(t *testing.T, path string, f Format) (ids []string, bad []string, r *Reader) {
	t.Helper()
	file, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	r, err = NewReader(file, f)
	if err != nil {
		t.Fatalf("NewReader(%s): %v", path, err)
	}
	for {
		a, line, err := r.Next()
		if errors.Is(err, io.EOF) {
			return ids, bad, r
		}
		var re *RowError
		if errors.As(err, &re) {
			if re.Line != line {
				t.Errorf("%s: RowError line %d, Next line %d", path, re.Line, line)
			}
			for _, fe := range re.Errs {
				bad = append(bad, fmt.Sprintf("line %d: %s", re.Line, fe.Field))
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: Next: %v", path, err)
		}
		if a.GetSourceFormat() != string(f) {
			t.Errorf("%s: source_format %q, want %q", path, a.GetSourceFormat(), f)
		}
		ids = append(ids, a.GetId())
	}
}

func TestReadCSV(t *testing.T) {
	file, _ := os.Open("testdata/applicants.csv")
	defer file.Close()
	r, err := NewReader(file, FormatCSV)
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Ignored(); !slices.Equal(got, []string{"recruiter"}) {
		t.Errorf("Ignored() = %v, want [recruiter]", got)
	}
	a, line, err := r.Next()
	if err != nil || line != 2 {
		t.Fatalf("first row: line %d, %v", line, err)
	}
	if a.GetName() != "Ana Souza" || len(a.GetEmails()) != 2 || len(a.GetPhonesNormalized()) != 2 ||
		a.GetClaimedPlace().GetPlace() != "Austin, TX, US" || a.GetShippingPlace().GetPlace() != "Round Rock, TX, US" ||
		len(a.GetWorkHistory()) != 2 || a.WorkHistory[1].GetEmployer() != "Globex" || a.WorkHistory[1].GetStart() != "2018-01" ||
		a.GetEducation()[0].GetInstitution() != "University of São Paulo" || len(a.GetProfileUrls()) != 2 ||
		a.GetAppliedAt().AsTime().Format("2006-01-02T15:04") != "2024-05-01T14:03" || a.GetReferences()[0] != "Dana Reyes <dana@initech.example>" {
		t.Errorf("first row read as %v", a)
	}
	a, line, err = r.Next()
	if err != nil || line != 3 {
		t.Fatalf("second row: line %d, %v", line, err)
	}
	// A JSON cell carries an employer whose name holds ';'.
	if a.GetName() != "Chen, Wei" || len(a.GetWorkHistory()) != 1 || a.WorkHistory[0].GetEmployer() != "Smith; Jones & Co" ||
		a.GetAgency() != "Brightpath Staffing" || a.GetPhonesNormalized()[0].GetCountry() != "GB" {
		t.Errorf("second row read as %v", a)
	}
	if _, _, err := r.Next(); !errors.Is(err, io.EOF) {
		t.Errorf("after the last row: %v, want io.EOF", err)
	}
}

func TestReadJSONL(t *testing.T) {
	ids, bad, _ := readAll(t, "testdata/applicants.jsonl", FormatJSONL)
	if !slices.Equal(ids, []string{"j-1", "j-2"}) || len(bad) > 0 {
		t.Errorf("ids %v, errors %v", ids, bad)
	}
}

func TestReadGreenhouse(t *testing.T) {
	file, _ := os.Open("testdata/candidates.json")
	defer file.Close()
	r, err := NewReader(file, FormatGreenhouse)
	if err != nil {
		t.Fatal(err)
	}
	a, line, err := r.Next()
	if err != nil || line != 2 {
		t.Fatalf("first candidate: line %d, %v", line, err)
	}
	checks := []struct {
		what      string
		got, want any
	}{
		{"id", a.GetId(), "53883394"},
		{"name", a.GetName(), "Trisha Troy"},
		{"emails", a.GetEmails(), []string{"t.troy+jobs@gmail.com", "trisha@initech.example"}},
		{"canonical", a.GetEmailsNormalized()[0].GetCanonical(), "ttroy@gmail.com"},
		{"phones (the Skype name left out)", a.GetPhones(), []string{"+1 (512) 555-0199"}},
		{"claimed address (the home one)", a.GetClaimedAddress(), "1200 Barton Springs Rd, Apt 4B, Austin, TX 78704"},
		{"profile urls (@handle left out)", a.GetProfileUrls(), []string{"https://trishatroy.dev", "https://www.linkedin.com/in/trishatroy"}},
		{"employer", a.GetWorkHistory()[0].GetEmployer(), "Initech"},
		{"employment start", a.GetWorkHistory()[1].GetStart(), "2016-06-01"},
		{"employment end", a.GetWorkHistory()[1].GetEnd(), "2019-05-31"},
		{"current employment", a.GetWorkHistory()[0].GetEnd(), ""},
		{"education", a.GetEducation()[0].GetDegree(), "Bachelor's Degree, Computer Science"},
		{"education date MM/DD/YYYY", a.GetEducation()[1].GetStart(), "2017-01-01"},
		{"role (latest application)", a.GetRole(), "Machine Learning Engineer"},
		{"applied_at", a.GetAppliedAt().AsTime().Format("2006-01-02"), "2024-04-02"},
		{"interview zone (custom field)", a.GetInterviewTimeZone(), "America/Chicago"},
		{"submission ip (keyed custom field)", a.GetSubmissionIp(), "203.0.113.9"},
		{"claimed place", a.GetClaimedPlace().GetPlace(), "Austin, TX, US"},
	}
	for _, c := range checks {
		if fmt.Sprint(c.got) != fmt.Sprint(c.want) {
			t.Errorf("%s = %v, want %v", c.what, c.got, c.want)
		}
	}
	a, line, err = r.Next()
	if err != nil || line != 111 || a.GetId() != "53883400" || a.GetClaimedAddress() != "" || a.GetRole() != "" {
		t.Errorf("second candidate: line %d, %v, %v", line, err, a)
	}
	if _, _, err := r.Next(); !errors.Is(err, io.EOF) {
		t.Errorf("after the last candidate: %v, want io.EOF", err)
	}
}

// Every bad-input kind names its row's line and the field.
func TestBadRowsNameLineAndField(t *testing.T) {
	tests := []struct {
		path   string
		format Format
		ids    []string
		bad    []string
	}{
		{"testdata/bad.csv", FormatCSV, []string{"b-1"}, []string{
			"line 3: phones[1]",
			"line 4: claimed_address",
			"line 5: work_history[0].start", "line 5: education[0].end",
			"line 6: applied_at", "line 6: interview_time_zone", "line 6: submission_ip",
			"line 7: work_history[0]",
			"line 8: row",
			"line 9: id",
		}},
		{"testdata/bad.jsonl", FormatJSONL, []string{"j-1"}, []string{
			"line 2: phones[1]",
			"line 3: favourite_colour",
			"line 4: phones",
			"line 5: work_history[0].start",
			"line 6: row",
			"line 7: emails[0]",
		}},
		{"testdata/bad_candidates.json", FormatGreenhouse, []string{"1"}, []string{
			"line 3: phones[1]",
			"line 5: employments[0].start_date", "line 5: education[0].end",
			"line 8: row",
			"line 9: name", "line 9: claimed_address",
		}},
	}
	for _, tt := range tests {
		ids, bad, _ := readAll(t, tt.path, tt.format)
		if !slices.Equal(ids, tt.ids) {
			t.Errorf("%s: good rows %v, want %v", tt.path, ids, tt.ids)
		}
		slices.Sort(bad)
		want := slices.Clone(tt.bad)
		slices.Sort(want)
		if !slices.Equal(bad, want) {
			t.Errorf("%s: errors\n  %s\nwant\n  %s", tt.path, strings.Join(bad, "\n  "), strings.Join(want, "\n  "))
		}
	}
}

func TestHeaderAndFileErrors(t *testing.T) {
	tests := []struct {
		name   string
		format Format
		in     string
		want   string
	}{
		{"no name column", FormatCSV, "id,email\na,b\n", "line 1: missing column name"},
		{"no id or name", FormatCSV, "email\n", "missing column id, name"},
		{"duplicate column", FormatCSV, "id,name,ID\n", `column "id" appears twice`},
		{"empty csv", FormatCSV, "", "line 1: empty file"},
		{"greenhouse object", FormatGreenhouse, `{"id": 1}`, "line 1: want a JSON array"},
		{"unknown format", Format("xlsx"), "", `format "xlsx"`},
	}
	for _, tt := range tests {
		_, err := NewReader(strings.NewReader(tt.in), tt.format)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: NewReader error %v, want it to say %q", tt.name, err, tt.want)
		}
	}

	// Errors that end a file still name a line.
	ends := []struct {
		name   string
		format Format
		in     string
		want   string
	}{
		{"bare quote", FormatCSV, "id,name\na,b\nc,\"d\"x\n", "line 3"},
		{"unterminated quote at the end", FormatCSV, "id,name\n\",", "line 2"},
		{"truncated greenhouse", FormatGreenhouse, "[\n{\"id\": 1, \"first_name\": \"A\"},\n{\"id\": 2,\n", "line 3"},
		{"greenhouse syntax", FormatGreenhouse, "[\n{\"id\": 1, \"first_name\": \"A\"},\n{\"id\" 2}]\n", "line 3"},
	}
	for _, tt := range ends {
		r, err := NewReader(strings.NewReader(tt.in), tt.format)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		var last error
		for {
			_, _, err := r.Next()
			var re *RowError
			if err == nil || errors.As(err, &re) {
				continue
			}
			last = err
			break
		}
		if errors.Is(last, io.EOF) || !strings.Contains(last.Error(), tt.want) {
			t.Errorf("%s: ended with %v, want an error naming %s", tt.name, last, tt.want)
		}
	}
}

// A row past MaxRowBytes is refused, not held: a JSON line is skipped and the
// rest read; CSV and Greenhouse cannot find the next row and stop.
func TestRowTooLarge(t *testing.T) {
	huge := strings.Repeat("x", 2*MaxRowBytes)
	jsonl := `{"id":"a","name":"A"}` + "\n" + `{"id":"b","name":"` + huge + `"}` + "\n" + `{"id":"c","name":"C"}` + "\n"
	r, _ := NewReader(strings.NewReader(jsonl), FormatJSONL)
	var got []string
	for {
		a, line, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		var re *RowError
		if errors.As(err, &re) {
			got = append(got, fmt.Sprintf("line %d: %s", line, re.Errs[0].Field))
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, a.GetId())
	}
	if !slices.Equal(got, []string{"a", "line 2: row", "c"}) {
		t.Errorf("jsonl read %v", got)
	}
	for _, f := range []struct {
		format Format
		in     string
	}{
		{FormatCSV, "id,name\na,A\nb,\"" + huge + "\"\n"},
		{FormatGreenhouse, `[{"id":1,"first_name":"A"},` + "\n" + `{"id":2,"first_name":"` + huge + `"}]`},
	} {
		r, err := NewReader(strings.NewReader(f.in), f.format)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := r.Next(); err != nil {
			t.Fatalf("%s first row: %v", f.format, err)
		}
		_, _, err = r.Next()
		if err == nil || !strings.Contains(err.Error(), "line") || !errors.Is(err, errRowTooLarge) {
			t.Errorf("%s: oversized row gave %v, want a line and %v", f.format, err, errRowTooLarge)
		}
	}
}
