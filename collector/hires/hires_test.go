package hires

import (
	"strings"
	"testing"
)

func TestParseCSVGood(t *testing.T) {
	in := "\ufeffid,name,email,claimed_home,shipping_address,phone,institutions,start_date\n" +
		"h1,Ana Lee,ana@example.com,\"Austin, TX, US\",\"1 Main St, Austin, TX\",+1 512 555 0100,Univ A; Corp B,2026-12-01\n" +
		"h2,Bo Chen,,\"Toronto, ON, CA\",,,,\n"
	got, errs := ParseCSV(strings.NewReader(in))
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
	_, errs := ParseCSV(strings.NewReader(in))
	want := map[int]string{3: "name: missing", 4: "claimed_home", 5: `already on line 2`, 6: "want YYYY-MM-DD", 7: "id \"bad id!\""}
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
		"unknown column": "id,name,claimed_home,salary\n",
		"missing column": "id,name\nh1,A\n",
		"no rows":        "id,name,claimed_home\n",
	} {
		if _, errs := ParseCSV(strings.NewReader(in)); len(errs) == 0 || errs[0].Line != 1 {
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
	_, errs := ParseCSV(strings.NewReader("id,name,claimed_home\nh1,Ana,\"Austin, TX, US\"\n\"unterminated,x,y\n"))
	if len(errs) != 1 || errs[0].Line != 3 || !strings.Contains(errs[0].Error(), "quote") {
		t.Fatalf("errors %v, want one on line 3 about the quote", errs)
	}
}
