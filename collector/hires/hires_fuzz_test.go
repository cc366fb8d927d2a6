package hires

import (
	"slices"
	"strings"
	"testing"
)

// FuzzParseCSV: any file either yields hires that are all resolved, or row
// errors with line numbers; never a panic, never a half-valid hire; unknown
// columns are named and ignored.
func FuzzParseCSV(f *testing.F) {
	f.Add("id,name,claimed_home\nh1,Ana,\"Austin, TX, US\"\n")
	f.Add("id,name,claimed_home,start_date,institutions\nh1,Ana,\"Toronto, ON, CA\",2026-12-01,A;B\nh1,Bo,\"Austin, TX, US\",x,\n")
	f.Add("\ufeffid,name,claimed_home\n\"unterminated,x,y\n")
	f.Add("")
	f.Add("id,name,claimed_home\nh1,Ana,\"30.2,-97.7\"\n")
	f.Add("Dept,id,,name,claimed_home,Dept\nX,h1,,Ana,\"Austin, TX, US\",Y\n")
	f.Fuzz(func(t *testing.T, in string) {
		p := ParseCSV(strings.NewReader(in))
		hires, errs := p.Hires, p.Errors
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
		// An unknown column is ignored, never taken for a known one, and
		// never blocks the known ones.
		for _, name := range p.Ignored {
			if slices.Contains(Columns, name) {
				t.Fatalf("known column %q reported as ignored", name)
			}
		}
		for _, c := range p.Columns {
			if !slices.Contains(Columns, c) || slices.Contains(p.Ignored, c) {
				t.Fatalf("column %q both used and ignored, or unknown", c)
			}
		}
		if len(hires) > 0 && len(p.Columns) < 3 {
			t.Fatalf("hires from a file without the required columns: %q", p.Columns)
		}
		if len(hires) == 0 && len(errs) == 0 {
			t.Fatal("no hires and no errors")
		}
	})
}
