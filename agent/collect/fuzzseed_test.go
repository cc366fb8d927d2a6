package collect

import (
	"os"
	"path/filepath"
	"testing"
)

// addFixtureSeeds seeds a fuzz target with every fixture file matching the
// patterns (relative to testdata/) and with truncations of each one: cut at
// a quarter, at half, at three quarters and one byte short, the shapes a
// command killed by its timeout or a partial read leaves behind. A pattern
// that matches nothing fails the test, so a renamed fixture cannot silently
// empty a corpus.
func addFixtureSeeds(f *testing.F, patterns ...string) {
	f.Helper()
	for _, pat := range patterns {
		paths, err := filepath.Glob(filepath.Join("testdata", pat))
		if err != nil {
			f.Fatalf("fixture pattern %q: %v", pat, err)
		}
		if len(paths) == 0 {
			f.Fatalf("fixture pattern %q matches no file", pat)
		}
		for _, p := range paths {
			b, err := os.ReadFile(p)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
			for _, cut := range []int{len(b) / 4, len(b) / 2, len(b) * 3 / 4, len(b) - 1} {
				if cut > 0 && cut < len(b) {
					f.Add(b[:cut])
				}
			}
		}
	}
}
