package analysis

import (
	"strings"
	"testing"
	"time"
)

// FuzzParseConfigApplicants: any applicants block either fails to parse
// with an error or gives a config whose agencies are well formed and with
// which screening runs.
func FuzzParseConfigApplicants(f *testing.F) {
	f.Add("similarity_threshold: 0.7\nagencies:\n  - name: A\n    domains: [a.example]\n    phones: [\"+15125550100\"]\n    networks: [198.51.100.0/24]\n")
	f.Add("agencies:\n  - name: \"\"\n")
	f.Add("agencies:\n  - name: B\n    phones: [\"5125550100\"]\n")
	f.Add("max_share_factor: 0.5\n")
	f.Add("agencies:\n  - name: C\n    networks: [\"not a net\"]\n")
	f.Fuzz(func(t *testing.T, block string) {
		var y strings.Builder
		y.WriteString("applicants:\n")
		for _, line := range strings.Split(block, "\n") {
			y.WriteString("  " + line + "\n")
		}
		cfg, err := ParseConfig([]byte(y.String()))
		if err != nil {
			return
		}
		for _, ag := range cfg.Applicants.Agencies {
			for _, p := range ag.Phones {
				if !isE164(p) {
					t.Fatalf("agency phone %q accepted", p)
				}
			}
		}
		x := NewApplicantIndex(ApplicantEnv{Config: func() *Config { return &cfg }})
		x.Put(mkApplicant("A1", "Ann Lee", withUSPhone("+15125550100"), withEmail("x@a.example", false), withIP("198.51.100.7"), withResume(ringResume)))
		x.Put(mkApplicant("A2", "Bo Park", withUSPhone("+15125550100"), withEmail("x@a.example", false), withIP("198.51.100.7"), withResume(ringResume)))
		x.Screen("A1", time.Now())
	})
}

// FuzzApplicantDetails: whatever an import carries in the compared fields,
// indexing and screening neither panic nor lose the applicant, and folding
// a name twice changes nothing.
func FuzzApplicantDetails(f *testing.F) {
	f.Add("José Müller", "linkedin.com/in/x", "+1 (512) 555-0101", "Jinyong IT Cooperation", ringResume)
	f.Add("", "https://", "@", "", "")
	f.Add("Ǆ ǅ ﬃ", "?#", "1", "Kim Il Sung Square", "a b c d")
	f.Fuzz(func(t *testing.T, name, url, ref, employer, resume string) {
		if n := foldName(name); foldName(n) != n {
			t.Fatalf("foldName(%q) = %q, then %q", name, n, foldName(n))
		}
		x := NewApplicantIndex(ApplicantEnv{})
		for _, id := range []string{"A1", "A2"} {
			x.Put(mkApplicant(id, name, withURLs(url), withRefs(ref), withJob(employer, "2020-01", resume), withResume(resume)))
		}
		if x.Len() != 2 {
			t.Fatalf("Len %d", x.Len())
		}
		s := x.Screen("A1", time.Now())
		if s.Score <= 0 || s.Score >= 1 {
			t.Fatalf("score %v", s.Score)
		}
		x.Remove("A2")
		x.Remove("A1")
		if x.Len() != 0 || len(x.head) != 0 || len(x.shared) != 0 || len(x.names) != 0 {
			t.Fatalf("index not empty after removing everyone: %d buckets, %d details, %d names", len(x.head), len(x.shared), len(x.names))
		}
	})
}
