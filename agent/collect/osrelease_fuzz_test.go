package collect

import (
	"strings"
	"testing"
)

// FuzzOSRelease feeds the os-release reader any bytes: keys are trimmed,
// hold no '=' and are no comment, and no value spans lines.
func FuzzOSRelease(f *testing.F) {
	addFixtureSeeds(f, "linux/os-release/*")
	f.Add([]byte("ID=\"\nVERSION_ID='12'\n# ID=x\n  ID = 'debian'  \n=x\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		for k, v := range parseOSRelease(b) {
			if k != strings.TrimSpace(k) || strings.Contains(k, "=") || strings.HasPrefix(k, "#") ||
				strings.ContainsAny(k+v, "\r\n") && !strings.Contains(string(b), "\r") {
				t.Fatalf("key %q value %q", k, v)
			}
		}
	})
}
