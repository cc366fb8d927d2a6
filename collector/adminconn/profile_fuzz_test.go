package adminconn

import (
	"strings"
	"testing"
	"time"

	"github.com/farmwatch/farmwatch/collector/pki"
)

// FuzzParseProfile: whatever a profile file holds gives a profile that
// passed every check, or an error; never a panic.
func FuzzParseProfile(f *testing.F) {
	f.Add([]byte("farmwatch_profile: 1\nserver: collector.example.com:7443\nca: x\ncert: y\nkey: z\n"))
	f.Add([]byte("farmwatch_profile: 2\n"))
	f.Add([]byte("server: [\n"))
	f.Add([]byte("farmwatch_profile: 1\nunknown: 1\n"))
	f.Add([]byte(""))
	ca, _, err := pki.LoadOrCreateCA(f.TempDir())
	if err != nil {
		f.Fatal(err)
	}
	certPEM, keyPEM, err := ca.IssueAdmin("ana", pki.RoleViewer, time.Hour)
	if err != nil {
		f.Fatal(err)
	}
	p, err := NewProfile("collector.example.com:7443", ca.PEM, certPEM, keyPEM)
	if err != nil {
		f.Fatal(err)
	}
	valid, err := p.Marshal()
	if err != nil {
		f.Fatal(err)
	}
	if _, err := ParseProfile(valid); err != nil {
		f.Fatalf("the profile NewProfile wrote does not parse: %v", err)
	}
	f.Add(valid)
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParseProfile(b)
		if err != nil {
			return
		}
		if p.Version != ProfileVersion || p.Server == "" || !strings.Contains(p.Key, "PRIVATE KEY") {
			t.Fatalf("accepted a profile that fails its checks: %+v", p)
		}
	})
}
