package hires

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

func TestParseCSVGood(t *testing.T) {
	in := "\ufeffid,name,email,claimed_home,shipping_address,phone,institutions,start_date\n" +
		"h1,Ana Lee,ana@example.com,\"Austin, TX, US\",\"1 Main St, Austin, TX\",+1 512 555 0100,Univ A; Corp B,2026-12-01\n" +
		"h2,Bo Chen,,\"Toronto, ON, CA\",,,,\n"
	p := ParseCSV(strings.NewReader(in))
	got, errs := p.Hires, p.Errors
	if len(errs) != 0 {
		t.Fatalf("errors: %v", errs)
	}
	if len(got) != 2 {
		t.Fatalf("%d hires, want 2", len(got))
	}
	if got[0].GetHome().GetTimeZone() != "America/Chicago" || got[1].GetHome().GetCountry() != "CA" {
		t.Errorf("claimed homes not resolved: %v / %v", got[0].GetHome(), got[1].GetHome())
	}
	if inst := got[0].GetInstitutions(); len(inst) != 2 || inst[1] != "Corp B" {
		t.Errorf("institutions %q", inst)
	}
}

func TestParseCSVReportsEveryBadRowWithItsLine(t *testing.T) {
	in := "id,name,claimed_home,start_date\n" +
		"h1,Ana,\"Austin, TX, US\",2026-12-01\n" + // line 2: fine
		"h2,,\"Austin, TX, US\",\n" + // line 3: no name
		"h3,Cy,\"Nowhere, ZZ, QQ\",\n" + // line 4: unknown place
		"h1,Di,\"Austin, TX, US\",\n" + // line 5: duplicate id
		"h5,Ed,\"Austin, TX, US\",12/01/2026\n" + // line 6: bad date
		"bad id!,Fa,\"Austin, TX, US\",\n" // line 7: bad id
	errs := ParseCSV(strings.NewReader(in)).Errors
	want := map[int]string{3: "name: missing", 4: "claimed_home", 5: `already on line 2`, 6: "want YYYY-MM-DD", 7: `id: "bad id!"`}
	if len(errs) != len(want) {
		t.Fatalf("got %d errors %v, want %d", len(errs), errs, len(want))
	}
	for _, e := range errs {
		w, ok := want[e.Line]
		if !ok || !strings.Contains(e.Error(), w) {
			t.Errorf("unexpected error %q (want on line %d: %q)", e.Error(), e.Line, w)
		}
	}
}

func TestParseCSVHeaderProblems(t *testing.T) {
	for name, in := range map[string]string{
		"empty":          "",
		"twice":          "id,name,claimed_home,Name\n",
		"missing column": "id,name\nh1,A\n",
		"no rows":        "id,name,claimed_home\n",
	} {
		if errs := ParseCSV(strings.NewReader(in)).Errors; len(errs) == 0 || errs[0].Line != 1 {
			t.Errorf("%s: errors %v, want one on line 1", name, errs)
		}
	}
}

func TestShippingPlace(t *testing.T) {
	tests := []struct {
		addr, country, want string
		ok                  bool
	}{
		{"1 Main St, Austin, TX 78701", "US", "Austin", true},
		{"400 W Van Buren St, Apt 12, Phoenix, AZ 85003, US", "US", "Phoenix", true},
		{"220 Yonge St, Toronto, ON M5B 2H1", "CA", "Toronto", true},
		{"PO Box 12", "US", "", false},
		{"", "US", "", false},
	}
	for _, tc := range tests {
		p, ok := ShippingPlace(tc.addr, tc.country)
		if ok != tc.ok || (ok && p.Name != tc.want) {
			t.Errorf("%q: got %v %q, want %v %q", tc.addr, ok, p.Name, tc.ok, tc.want)
		}
	}
}

// A malformed quote used to panic (FieldPos after a failed Read); found by
// FuzzParseCSV, kept as a regression seed in testdata/fuzz.
func TestParseCSVMalformedQuote(t *testing.T) {
	errs := ParseCSV(strings.NewReader("id,name,claimed_home\nh1,Ana,\"Austin, TX, US\"\n\"unterminated,x,y\n")).Errors
	if len(errs) != 1 || errs[0].Line != 3 || !strings.Contains(errs[0].Error(), "quote") {
		t.Fatalf("errors %v, want one on line 3 about the quote", errs)
	}
}

// An HR export carries columns farmwatch has no use for: they are named once
// and ignored, and the hires still come through.
func TestParseCSVIgnoresUnknownColumns(t *testing.T) {
	in := "Employee Number,id,name,Department,claimed_home,,phone\n" +
		"9001,h1,Ana Lee,Sales,\"Austin, TX, US\",,+1 512 555 0100\n" +
		"9002,h2,Bo Chen,Ops,\"Toronto, ON, CA\",x,\n"
	p := ParseCSV(strings.NewReader(in))
	if len(p.Errors) != 0 || len(p.Hires) != 2 {
		t.Fatalf("hires %d, errors %v", len(p.Hires), p.Errors)
	}
	if want := []string{"employee number", "department", "(blank, column 6)"}; !slices.Equal(p.Ignored, want) {
		t.Errorf("ignored %q, want %q", p.Ignored, want)
	}
	if want := []string{"id", "name", "claimed_home", "phone"}; !slices.Equal(p.Columns, want) {
		t.Errorf("columns %q, want %q", p.Columns, want)
	}
	if p.Hires[0].GetPhone() != "+1 512 555 0100" || p.Hires[1].GetName() != "Bo Chen" {
		t.Errorf("fields read from the wrong columns: %v", p.Hires)
	}
}

// A row with several wrong fields reports each of them, with its field.
func TestParseCSVReportsEveryFieldOfARow(t *testing.T) {
	in := "id,name,email,claimed_home,start_date,end_date\n" +
		"bad id!,,nobody,\"Nowhere, ZZ, QQ\",2026-13-01,soon\n"
	p := ParseCSV(strings.NewReader(in))
	var fields []string
	for _, e := range p.Errors {
		var fe FieldError
		if e.Line != 2 || !errors.As(e.Err, &fe) {
			t.Fatalf("error %v: want a field error on line 2", e)
		}
		fields = append(fields, fe.Field)
	}
	if want := []string{"id", "name", "email", "start_date", "end_date", "claimed_home"}; !slices.Equal(fields, want) {
		t.Errorf("fields %q, want %q", fields, want)
	}
}

// A file of MaxRows rows is one import; one row more is refused.
func TestParseCSVRowLimit(t *testing.T) {
	var b strings.Builder
	b.WriteString("id,name,claimed_home\n")
	for i := range MaxRows {
		fmt.Fprintf(&b, "h%d,Name %d,\"Austin, TX, US\"\n", i, i)
	}
	if p := ParseCSV(strings.NewReader(b.String())); len(p.Errors) != 0 || len(p.Hires) != MaxRows {
		t.Fatalf("%d rows: %d hires, errors %v", MaxRows, len(p.Hires), p.Errors)
	}
	b.WriteString("extra,Extra,\"Austin, TX, US\"\n")
	if p := ParseCSV(strings.NewReader(b.String())); len(p.Errors) != 1 || !strings.Contains(p.Errors[0].Error(), "split the file") {
		t.Fatalf("%d rows: errors %v", MaxRows+1, p.Errors)
	}
}
