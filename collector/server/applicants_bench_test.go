package server_test

import (
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/farmwatch/farmwatch/internal/testcollector"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
	"github.com/farmwatch/farmwatch/sim"
)

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
	list := sim.ApplicantPopulation(n)
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
