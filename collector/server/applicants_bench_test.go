package server_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/farmwatch/farmwatch/internal/testcollector"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// benchCities are places the gazetteer knows, with an area code of each.
var benchCities = []struct{ city, state, zip, area, zone string }{
	{"Austin", "TX", "78704", "512", "America/Chicago"},
	{"Seattle", "WA", "98101", "206", "America/Los_Angeles"},
	{"Chicago", "IL", "60601", "312", "America/Chicago"},
	{"Denver", "CO", "80202", "303", "America/Denver"},
	{"Boston", "MA", "02108", "617", "America/New_York"},
	{"Atlanta", "GA", "30303", "404", "America/New_York"},
	{"Phoenix", "AZ", "85004", "602", "America/Phoenix"},
	{"Portland", "OR", "97204", "503", "America/Los_Angeles"},
}

var benchFirst = []string{"Ana", "Ben", "Chloe", "David", "Elena", "Farid", "Grace", "Hiro", "Ines", "Jamal", "Kofi", "Lena", "Mateo", "Nadia", "Omar", "Priya", "Quinn", "Rosa", "Sven", "Tariq"}
var benchLast = []string{"Lee", "Ortiz", "Nguyen", "Smith", "Kowalski", "Haddad", "Okafor", "Tanaka", "Garcia", "Müller", "Singh", "Rossi", "Cohen", "Park", "Silva", "Ivanova"}

// benchWords is a vocabulary of 4,000 made-up words: résumés drawn from it
// share phrases by chance about as often as real ones do.
var benchWords = func() []string {
	syl := strings.Fields("ka lo mi ne ru sa ti po ve da ge hu ri zo ba fe")
	var out []string
	for _, a := range syl {
		for _, b := range syl {
			for _, c := range syl {
				out = append(out, a+b+c)
			}
		}
	}
	return out[:4000]
}()

func words(rng *rand.Rand, n int) string {
	w := make([]string, n)
	for i := range w {
		w[i] = benchWords[rng.IntN(len(benchWords))]
	}
	return strings.Join(w, " ")
}

// applicantPopulation is n applicants: a background of different people,
// and every 100th a ring of four identities sharing a phone, a shipping
// address, a submission IP and a résumé.
func applicantPopulation(n int) []*pb.Applicant {
	rng := rand.New(rand.NewPCG(17, 2026))
	out := make([]*pb.Applicant, 0, n)
	for i := 0; len(out) < n; i++ {
		c := benchCities[rng.IntN(len(benchCities))]
		a := &pb.Applicant{
			Id:                fmt.Sprintf("app-%07d", i),
			Name:              fmt.Sprintf("%s %s %d", benchFirst[rng.IntN(len(benchFirst))], benchLast[rng.IntN(len(benchLast))], i),
			Emails:            []string{fmt.Sprintf("person%d@example%d.com", i, i%97)},
			Phones:            []string{fmt.Sprintf("%s-%03d-%04d", c.area, 200+rng.IntN(700), rng.IntN(10000))},
			ClaimedAddress:    fmt.Sprintf("%d %s St, %s, %s %s", 1+i, benchLast[rng.IntN(len(benchLast))], c.city, c.state, c.zip),
			WorkHistory:       []*pb.WorkEntry{{Employer: fmt.Sprintf("Company %d", rng.IntN(5000)), Title: "Engineer", Start: "2018-01", End: "2024-01", Description: words(rng, 12)}},
			Education:         []*pb.EducationEntry{{Institution: fmt.Sprintf("State University %d", rng.IntN(300)), Degree: "BS", Start: "2013-09", End: "2017-05"}},
			ResumeText:        words(rng, 40),
			Role:              "Software Engineer",
			SubmissionIp:      fmt.Sprintf("23.%d.%d.%d", rng.IntN(256), rng.IntN(256), 1+rng.IntN(254)),
			InterviewTimeZone: c.zone,
			AppliedAt:         timestamppb.New(time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Minute)),
		}
		out = append(out, a)
		if i%100 == 99 { // a ring of four
			resume := words(rand.New(rand.NewPCG(uint64(i), 4)), 40)
			for k := 0; k < 4 && len(out) < n; k++ {
				r := &pb.Applicant{
					Id: fmt.Sprintf("ring-%07d-%d", i, k), Name: fmt.Sprintf("%s %s R%d%d", benchFirst[(i+k)%len(benchFirst)], benchLast[(i+3*k)%len(benchLast)], i, k),
					Emails:          []string{fmt.Sprintf("ring%d.%d@gmail.com", i, k)},
					Phones:          []string{fmt.Sprintf("+1 (415) %03d-%04d", 200+i%700, i%10000)},
					ClaimedAddress:  fmt.Sprintf("%d Pine St, Seattle, WA 98101", 100*k+i%97),
					ShippingAddress: fmt.Sprintf("%d Elm Ave Apt 3, Dallas, TX 75201", 1000+i),
					WorkHistory:     []*pb.WorkEntry{{Employer: fmt.Sprintf("Startup %d-%d LLC", i, k), Title: "ML Engineer", Start: "2020-01", End: "2024-06"}},
					ResumeText:      resume,
					Role:            "ML Engineer", SubmissionIp: fmt.Sprintf("45.%d.%d.%d", i>>16&255, i>>8&255, i&255),
					InterviewTimeZone: "America/Los_Angeles",
				}
				out = append(out, r)
			}
		}
	}
	return out
}

// BenchmarkImportApplicants: an import of FARMWATCH_BENCH_APPLICANTS
// applicants (default 100,000) through the real service over mutual TLS,
// from the first chunk sent to the answer after screening and alerts. It
// reports the wall time of the import, the peak heap and peak resident
// memory of the process (client and collector together), and the peak heap
// above the one before the import (the generated rows and an idle
// collector): what the import itself holds.
//
//	go test -run '^$' -bench ImportApplicants -benchtime 1x ./collector/server/
func BenchmarkImportApplicants(b *testing.B) {
	n := 100000
	if v, err := strconv.Atoi(os.Getenv("FARMWATCH_BENCH_APPLICANTS")); err == nil && v > 0 {
		n = v
	}
	list := applicantPopulation(n)
	for range b.N {
		b.StopTimer()
		c := testcollector.Start(b, nil)
		runtime.GC()
		var base runtime.MemStats
		runtime.ReadMemStats(&base) // the generated file and an idle collector
		var peak atomic.Uint64
		stop := make(chan struct{})
		go func() {
			var ms runtime.MemStats
			t := time.NewTicker(20 * time.Millisecond)
			defer t.Stop()
			for {
				runtime.ReadMemStats(&ms)
				if ms.HeapInuse > peak.Load() {
					peak.Store(ms.HeapInuse)
				}
				select {
				case <-stop:
					return
				case <-t.C:
				}
			}
		}()
		var chunks [][]*pb.Applicant
		for i := 0; i < len(list); i += 500 {
			chunks = append(chunks, list[i:min(i+500, len(list))])
		}
		b.StartTimer()
		start := time.Now()
		resp, err := importApplicants(b, c.Admin, false, chunks...)
		elapsed := time.Since(start)
		b.StopTimer()
		close(stop)
		if err != nil {
			b.Fatal(err)
		}
		if int(resp.GetAdded()) != n {
			b.Fatalf("import: %v", resp)
		}
		b.ReportMetric(elapsed.Seconds(), "s/import")
		b.ReportMetric(float64(resp.GetAlerts()), "alerts")
		b.ReportMetric(float64(peak.Load())/(1<<20), "peak-heap-MiB")
		b.ReportMetric(float64(peak.Load()-min(peak.Load(), base.HeapInuse))/(1<<20), "import-heap-MiB")
		if hwm := vmHWM(); hwm > 0 {
			b.ReportMetric(hwm, "peak-rss-MiB")
		}
		b.Logf("%d applicants imported, screened and alerted in %s: %d screened, %d alerts", n, elapsed.Round(time.Millisecond),
			resp.GetScreened(), resp.GetAlerts())
		c.Stop()
		b.StartTimer()
	}
}

// vmHWM is the process's peak resident set (Linux), in MiB; 0 elsewhere.
func vmHWM() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return 0
}
