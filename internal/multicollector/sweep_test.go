package multicollector_test

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/farmwatch/farmwatch/collector/server"
	"github.com/farmwatch/farmwatch/internal/pgtest"
	"github.com/farmwatch/farmwatch/internal/testcollector"
)

// Every collector runs the background sweeps (silence, cluster expiry,
// fingerprint pruning, retention) over the one store. Run back to back on
// both collectors while agents deliver to both, the sweeps conflict with
// each other and with ingest; serializable transactions keep them correct,
// and the retries must let each finish rather than fight forever.
func TestSweepsOnTwoCollectorsUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("a load test")
	}
	url := pgtest.Shared(t).NewDatabase(t)
	ca := newCA(t)
	// Retention on: each sweep also runs the prune of old reports and
	// alert events (a day: nothing is that old, the scans run all the same).
	withRetention := func(cfg *server.Config) {
		collectorConfig(url, ca)(cfg)
		cfg.Retention = 24 * time.Hour
		cfg.MetricsListen = "127.0.0.1:0"
	}
	a, b := testcollector.Start(t, withRetention), testcollector.Start(t, withRetention)
	agents := enrollAgents(t, a.Admin, []string{a.Addr(), b.Addr()}, 6)
	stop := load(agents)
	stopped := false
	defer func() {
		if !stopped {
			stop()
		}
	}()
	waitFor(t, "500 reports acknowledged", 2*time.Minute, func() bool { return totalAcked(agents) >= 500 })

	const rounds = 50
	type result struct {
		ok, failed int
		firstErr   error
		took       time.Duration
	}
	results := make([]result, 2)
	startAcked := totalAcked(agents)
	var wg sync.WaitGroup
	for i, c := range []*testcollector.Collector{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := &results[i]
			start := time.Now()
			for range rounds {
				_, err := c.Sweep()
				if err == nil {
					_, err = c.PruneReports()
				}
				if err != nil {
					r.failed++
					if r.firstErr == nil {
						r.firstErr = err
					}
				} else {
					r.ok++
				}
			}
			r.took = time.Since(start)
		}()
	}
	wg.Wait()
	during := totalAcked(agents) - startAcked
	stop()
	stopped = true
	for i, r := range results {
		name := []string{"A", "B"}[i]
		t.Logf("collector %s: %d of %d sweeps finished, %d failed (first: %v), in %s", name, r.ok, rounds, r.failed, r.firstErr, r.took.Round(time.Millisecond))
		if r.failed > 0 {
			t.Errorf("collector %s: %d sweeps failed: %v", name, r.failed, r.firstErr)
		}
	}
	if during == 0 {
		t.Error("no report was acknowledged while the sweeps ran")
	}
	t.Logf("%d reports acknowledged while the sweeps ran; serialization retries: A %d, B %d", during, a.Store().Retries(), b.Store().Retries())
	// The retries are on each collector's /metrics.
	for _, c := range []*testcollector.Collector{a, b} {
		want := c.Store().Retries()
		if got := retriesMetric(t, c.MetricsAddr()); got < want {
			t.Errorf("%s: farmwatch_store_retries_total %d, want at least %d", c.Addr(), got, want)
		}
	}
	drain(t, agents)
	checkStoredOnce(t, a.Admin, agents)
}

// retriesMetric reads farmwatch_store_retries_total from a
// collector's /metrics.
func retriesMetric(t *testing.T, addr string) int64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, "farmwatch_store_retries_total "); ok {
			n, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("%q: %v", line, err)
			}
			return int64(n)
		}
	}
	t.Fatalf("no farmwatch_store_retries_total on %s/metrics", addr)
	return 0
}
