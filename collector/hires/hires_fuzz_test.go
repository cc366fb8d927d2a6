package hires

import (
	"strings"
	"testing"
)

// FuzzParseCSV: any file either yields hires that are all resolved, or row
// errors with line numbers; never a panic, never a half-valid hire.
func FuzzParseCSV(f *testing.F) {
	f.Add("id,name,claimed_home\nh1,Ana,\"Austin, TX, US\"\n")
	f.Add("id,name,claimed_home,start_date,institutions\nh1,Ana,\"Toronto, ON, CA\",2026-12-01,A;B\nh1,Bo,\"Austin, TX, US\",x,\n")
	f.Add("\ufeffid,name,claimed_home\n\"unterminated,x,y\n")
	f.Add("")
	f.Add("id,name,claimed_home\nh1,Ana,\"30.2,-97.7\"\n")
	f.Fuzz(func(t *testing.T, in string) {
		hires, errs := ParseCSV(strings.NewReader(in))
		for _, h := range hires {
			if h.GetHome() == nil || h.GetId() == "" || h.GetName() == "" {
				t.Fatalf("an unresolved hire came through: %v", h)
			}
		}
		for _, e := range errs {
			if e.Line < 1 || e.Err == nil {
				t.Fatalf("row error without a line or reason: %+v", e)
			}
		}
		if len(hires) == 0 && len(errs) == 0 {
			t.Fatal("no hires and no errors")
		}
	})
}
