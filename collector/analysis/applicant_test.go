package analysis

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

func TestApplicantIndexPutReturnsOldAndNewTies(t *testing.T) {
	x := NewApplicantIndex(ApplicantEnv{})
	ph := withUSPhone("+15125550199")
	x.Put(mkApplicant("A1", "Ann Lee", ph))
	x.Put(mkApplicant("A2", "Bo Park", withAddressKey("9 elm st")))
	if got := x.Put(mkApplicant("A3", "Cy Ode", ph)); !slices.Equal(got, []string{"A1", "A3"}) {
		t.Fatalf("new tie: affected %v, want A1 A3", got)
	}
	// A3 moves from A1's phone to A2's address: both are affected.
	if got := x.Put(mkApplicant("A3", "Cy Ode", withAddressKey("9 elm st"))); !slices.Equal(got, []string{"A1", "A2", "A3"}) {
		t.Fatalf("replace: affected %v, want A1 A2 A3", got)
	}
	if lineOf(x.Screen("A1", appliedAt), RuleApplicantSharedPhone) != nil {
		t.Fatal("A1 still shares a phone after A3 changed its")
	}
	if x.Len() != 3 {
		t.Fatalf("Len %d", x.Len())
	}
	if got := x.Remove("A2"); !slices.Equal(got, []string{"A3"}) {
		t.Fatalf("remove: affected %v, want A3", got)
	}
	if s := x.Screen("A3", appliedAt); len(s.Evidence) != 0 || x.Len() != 2 {
		t.Fatalf("after remove: %v, Len %d", s.Evidence, x.Len())
	}
	if s := x.Screen("A2", appliedAt); s.Score != 0 || s.Evidence != nil {
		t.Fatalf("a removed applicant screens %v", s)
	}
}

// TestApplicantIndexLSHRemove: removing and replacing applicants keeps the
// LSH buckets' chains whole, so copies are still found.
func TestApplicantIndexLSHRemove(t *testing.T) {
	x := NewApplicantIndex(ApplicantEnv{})
	for i := range 6 {
		x.Put(mkApplicant(fmt.Sprint("R", i), fmt.Sprint("Person ", i), withResume(ringResume)))
	}
	x.Remove("R2")
	x.Remove("R0")
	x.Put(mkApplicant("R4", "Person 4", withResume("nothing alike at all in this replacement text of the fourth résumé here")))
	x.Put(mkApplicant("R6", "Person 6", withResume(ringResume)))
	ev := lineOf(x.Screen("R1", appliedAt), RuleApplicantSimilarHistory)
	if ev == nil || ev.GetFacts()["others"] != "R3,R5,R6" {
		t.Fatalf("similar to R1: %v", ev)
	}
}

func TestApplicantScreenScoresAndDecays(t *testing.T) {
	x := NewApplicantIndex(ApplicantEnv{})
	ph := withUSPhone("+15125550199")
	x.Put(mkApplicant("A1", "Ann Lee", ph))
	x.Put(mkApplicant("A2", "Bo Park", ph))
	cfg := DefaultConfig()
	s := x.Screen("A1", appliedAt.Add(time.Hour))
	if want := sigmoid(cfg.Prior + 1.25); s.Score != want || !slices.Equal(s.Related, []string{"A2"}) {
		t.Fatalf("score %.4f related %v, want %.4f [A2]", s.Score, s.Related, want)
	}
	// Held for a year, half faded 45 days into the fade, gone after it.
	if ev := lineOf(x.Screen("A1", appliedAt.Add(applicantDecay.Hold+45*24*time.Hour)), RuleApplicantSharedPhone); ev.GetWeight() != 0.625 || ev.GetFreshWeight() != 1.25 {
		t.Fatalf("faded line %v", ev)
	}
}

func TestApplicantAlert(t *testing.T) {
	cfg := DefaultConfig()
	a := mkApplicant("A1", "Ann Lee")
	now := appliedAt.Add(48 * time.Hour)
	line := func(rule string, w float64) *pb.Evidence { return &pb.Evidence{Rule: rule, Weight: w} }
	low := ApplicantScreen{Score: 0.1, Evidence: []*pb.Evidence{line(RuleApplicantPhoneFormat, 0.25)}}
	high := ApplicantScreen{Score: 0.8, Evidence: []*pb.Evidence{line(RuleApplicantSharedPhone, 2.5), line(RuleApplicantGeo, 2)}, Related: []string{"A2"}}
	if al, ok := ApplicantAlert(nil, a, low, &cfg, now); ok || al != nil {
		t.Fatalf("under the alert threshold: %v", al)
	}
	al, ok := ApplicantAlert(nil, a, high, &cfg, now)
	if !ok || al.GetKind() != KindApplicant || al.GetApplicantId() != "A1" || al.GetStatus() != "open" || al.GetId() != "" ||
		al.GetPeakScore() != 0.8 || !slices.Equal(al.GetRelatedApplicants(), []string{"A2"}) || !strings.Contains(al.GetSummary(), "applicant.shared_phone") {
		t.Fatalf("new alert %v", al)
	}
	// Acknowledged, then the tie is erased: the score falls, peak and status stay.
	al.Id, al.Status = "7", "acknowledged"
	down, ok := ApplicantAlert(al, a, low, &cfg, now.Add(time.Hour))
	if !ok || down.GetId() != "7" || down.GetStatus() != "acknowledged" || down.GetScore() != 0.1 || down.GetPeakScore() != 0.8 {
		t.Fatalf("after the tie went: %v", down)
	}
	// Resolved: the same evidence again does not reopen it...
	down.Status, down.Evidence, down.RelatedApplicants = "resolved", high.Evidence, high.Related
	same, ok := ApplicantAlert(down, a, high, &cfg, now.Add(2*time.Hour))
	if !ok || same.GetId() != "7" || same.GetStatus() != "resolved" {
		t.Fatalf("resolved alert with the evidence it was judged on: %v", same)
	}
	// ...a new applicant tied to it opens a new alert.
	more := high
	more.Related = []string{"A2", "A9"}
	fresh, ok := ApplicantAlert(same, a, more, &cfg, now.Add(3*time.Hour))
	if !ok || fresh.GetId() != "" || fresh.GetStatus() != "open" {
		t.Fatalf("new evidence after a verdict: %v", fresh)
	}
}

func TestApplicantIndexConcurrent(t *testing.T) {
	x := NewApplicantIndex(ApplicantEnv{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				id := fmt.Sprintf("W%d-%d", w, i%50)
				x.Put(mkApplicant(id, id, withUSPhone(fmt.Sprintf("+1512555%04d", i%7)), withResume(ringResume)))
				x.Screen(id, appliedAt)
				if i%9 == 0 {
					x.Remove(id)
				}
			}
		}()
	}
	wg.Wait()
	if x.Len() > 200 {
		t.Fatalf("Len %d", x.Len())
	}
}

// syntheticApplicant is one of a large background population: its own
// phone, email, flat, IP and a history drawn from a vocabulary.
func syntheticApplicant(r *rand.Rand, i int, vocab []string) *pb.Applicant {
	var text strings.Builder
	for range 60 {
		text.WriteString(vocab[r.IntN(len(vocab))])
		text.WriteByte(' ')
	}
	return &pb.Applicant{Id: fmt.Sprintf("B%06d", i), Name: fmt.Sprintf("Person %d", i), ClaimedPlace: austinPlace,
		PhonesNormalized: []*pb.NormalizedPhone{{E164: fmt.Sprintf("+1512%07d", i), Country: "US", Region: "Texas", Valid: true}},
		EmailsNormalized: []*pb.NormalizedEmail{{Canonical: fmt.Sprintf("p%d@example.com", i)}},
		AddressKey:       fmt.Sprintf("%d main st austin tx", i), SubmissionIp: fmt.Sprintf("203.%d.%d.%d", i>>16&255, i>>8&255, i&255),
		WorkHistory: []*pb.WorkEntry{{Employer: fmt.Sprintf("Company %d", r.IntN(5000)), Start: "2020-01"}},
		ResumeText:  text.String(), InterviewTimeZone: "America/Chicago"}
}

func vocabulary() []string {
	var out []string
	for i := range 5000 {
		out = append(out, fmt.Sprintf("w%d", i))
	}
	return out
}

// BenchmarkScreenOneAgainst100k: Put and Screen of one new applicant (who
// shares a phone with one of them and copies another's résumé) into an
// index of 100,000.
func BenchmarkScreenOneAgainst100k(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	vocab := vocabulary()
	x := NewApplicantIndex(ApplicantEnv{})
	var m0, m1 runtime.MemStats
	apps := make([]*pb.Applicant, 100_000)
	for i := range apps {
		apps[i] = syntheticApplicant(r, i, vocab)
	}
	runtime.GC()
	runtime.ReadMemStats(&m0)
	start := time.Now()
	for _, a := range apps {
		x.Put(a)
	}
	build := time.Since(start)
	runtime.GC()
	runtime.ReadMemStats(&m1)
	b.ResetTimer()
	i := 0
	for b.Loop() {
		n := syntheticApplicant(r, 200_000+i, vocab)
		n.PhonesNormalized = apps[i%len(apps)].GetPhonesNormalized()
		n.ResumeText = apps[(i+1)%len(apps)].GetResumeText()
		x.Put(n)
		s := x.Screen(n.GetId(), appliedAt)
		if len(s.Related) < 2 {
			b.Fatalf("screening found %v", s.Related)
		}
		i++
	}
	// build-s: indexing the 100,000 (Put each); index-MB: the heap the
	// index holds beyond the applicants themselves.
	b.ReportMetric(build.Seconds(), "build-s")
	b.ReportMetric(float64(m1.HeapAlloc-m0.HeapAlloc)/(1<<20), "index-MB")
}

// TestApplicantSumsStayOffTheThreshold: no applicant sits on the review
// threshold by the luck of the arithmetic. Every combination of applicant
// lines, each rule absent or at each multiple it can carry, stays at least
// 0.05 log-odds from the threshold.
func TestApplicantSumsStayOffTheThreshold(t *testing.T) {
	cfg := DefaultConfig()
	at := logit(cfg.ReviewThreshold) - cfg.Prior
	var options [][]float64
	for _, r := range applicantRules() {
		w := cfg.Weights[r.ID]
		opts := []float64{0}
		switch r.ID {
		case RuleApplicantGeo:
			for u := 0.5; u <= cfg.Applicants.MaxGeoFactor; u += 0.5 {
				opts = append(opts, w*u)
			}
		case RuleApplicantPhoneFormat:
			opts = append(opts, w, w*cfg.Hire.PhoneMismatchFactor)
		case RuleApplicantIdentityReuse, RuleApplicantInstitution, RuleApplicantDisposable, RuleApplicantVoIP:
			opts = append(opts, w)
		default: // the shared-detail rules and similar history
			for n := 1; ; n++ {
				f := min(1+cfg.Applicants.ShareFactorStep*float64(n-1), cfg.Applicants.MaxShareFactor)
				opts = append(opts, w*f)
				if f == cfg.Applicants.MaxShareFactor {
					break
				}
			}
		}
		options = append(options, opts)
	}
	worst, n := 1e9, 0
	var walk func(i int, sum float64)
	walk = func(i int, sum float64) {
		if i == len(options) {
			n++
			if d := sum - at; d < 0.05-1e-9 && d > -0.05+1e-9 {
				t.Fatalf("a sum of applicant lines is %.3f, %.3f from the threshold's %.3f", sum, d, at)
			} else if d < 0 && -d < worst {
				worst = -d
			} else if d >= 0 && d < worst {
				worst = d
			}
			return
		}
		for _, w := range options[i] {
			walk(i+1, sum+w)
		}
	}
	walk(0, 0)
	t.Logf("%d sums, the closest %.3f from the threshold", n, worst)
}
