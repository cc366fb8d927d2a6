package store

import "testing"

// An erased applicant's id goes where it stands as an id, and only there:
// erasing r-1 must not blank r-10 or xr-1 out of another applicant's lines.
func TestReplaceTokenWholeIDsOnly(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"r-1", "[erased]"},
		{"with r-1 (Daniel Brooks), r-10 (Kevin Walsh).", "with [erased] (Daniel Brooks), r-10 (Kevin Walsh)."},
		{"r-2,r-1,r-11", "r-2,[erased],r-11"},
		{"xr-1 r-1_b r-1.", "xr-1 r-1_b [erased]."},
		{"none here", "none here"},
	} {
		if got := replaceToken(c.in, "r-1", erasedText); got != c.want {
			t.Errorf("replaceToken(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
