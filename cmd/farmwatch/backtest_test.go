package main

import (
	"cmp"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/farmwatch/farmwatch/collector/server"
	"github.com/farmwatch/farmwatch/internal/testcollector"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
	"github.com/farmwatch/farmwatch/sim"
)

type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

// backtestJSON is the part of `model backtest -o json` the tests read.
type backtestJSON struct {
	Reports         string  `json:"reports"`
	Devices         int     `json:"devices"`
	FirstReport     string  `json:"first_report"`
	Recall          float64 `json:"recall"`
	ReviewThreshold float64 `json:"review_threshold"`
	Alerts          []struct {
		ID            string   `json:"id"`
		Kind          string   `json:"kind"`
		DeviceID      string   `json:"device_id"`
		MemberDevices []string `json:"member_devices"`
		PeakScore     float64  `json:"peak_score"`
	} `json:"alerts"`
	Warnings []string `json:"warnings"`
}

func (b backtestJSON) atReview() []string {
	var out []string
	for _, a := range b.Alerts {
		if a.PeakScore < b.ReviewThreshold {
			continue
		}
		if a.DeviceID != "" {
			out = append(out, a.DeviceID)
		}
		out = append(out, a.MemberDevices...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func (b backtestJSON) farmPeak() float64 {
	peak := 0.0
	for _, a := range b.Alerts {
		if a.Kind == "farm" {
			peak = max(peak, a.PeakScore)
		}
	}
	return peak
}

func backtestOf(t *testing.T, data string, args ...string) backtestJSON {
	t.Helper()
	stdout, _, err := runCLI(t, data, append([]string{"model", "backtest", "-o", "json"}, args...)...)
	if err != nil {
		t.Fatalf("model backtest %v: %v", args, err)
	}
	var out backtestJSON
	if err := json.Unmarshal([]byte(stdout), &out); err != nil {
		t.Fatalf("model backtest -o json is not JSON: %v\n%s", err, stdout)
	}
	return out
}

func TestModelBacktestThroughCLI(t *testing.T) {
	start := time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)
	clk := &testClock{t: start}
	c := testcollector.Start(t, func(cfg *server.Config) { cfg.Now = clk.Now })
	ctx := context.Background()
	fp, _ := c.Options().CAFingerprint()
	fleet := sim.Plan(8, 5)
	defer fleet.Close()
	if err := fleet.Register(ctx, c.Admin); err != nil {
		t.Fatal(err)
	}
	if err := fleet.Enroll(ctx, c.Addr(), fp, 4); err != nil {
		t.Fatal(err)
	}
	// Two days of hourly reports, each day's delivered at 23:00 UTC.
	for day := range 2 {
		clk.Set(start.Add(time.Duration(day)*24*time.Hour + 23*time.Hour))
		if _, err := fleet.SendDay(ctx, day, start.Add(time.Duration(day)*24*time.Hour), 4); err != nil {
			t.Fatal(err)
		}
	}
	var farm []string
	for _, d := range fleet.Devices {
		if d.Scenario == sim.Farm {
			farm = append(farm, d.ID())
		}
	}
	slices.Sort(farm)
	alerts, err := c.Admin.ListAlerts(ctx, &pb.ListAlertsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range alerts.GetAlerts() {
		if a.GetKind() == "farm" {
			if _, _, err := runCLI(t, c.Data, "alerts", "resolve", a.GetId(), "--verdict", "confirmed", "--note", "one house"); err != nil {
				t.Fatal(err)
			}
		}
	}
	dir := t.TempDir()
	candidate := filepath.Join(dir, "candidate.yaml")
	os.WriteFile(candidate, []byte("weights:\n  net.colocated: 0\n  farm.shared_network: 0\n  farm.claimed_homes: 0\n  farm.far_from_homes: 0\n"), 0o644)
	reports := strconv.Itoa(2 * 24 * len(fleet.Devices))

	t.Run("table", func(t *testing.T) {
		stdout, _, err := runCLI(t, c.Data, "model", "backtest")
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{
			"Replayed " + reports + " reports of 8 devices, received 2026-11-02T23:00:00Z to 2026-11-03T23:00:00Z.",
			"Verdicts in the store: 3 devices confirmed, 0 false-positive.",
			"Precision 1.00 (3 true, 0 false positives), recall 1.00 (0 missed).",
			"ALERT", "KIND", "DEVICES", "SCORE", "PEAK", "SUMMARY",
			"Laptop farm C-000001: 3 devices of 3 hires",
		} {
			if !strings.Contains(stdout, want) {
				t.Errorf("model backtest output lacks %q:\n%s", want, stdout)
			}
		}
		// Highest peak first.
		lines := strings.Split(stdout, "\n")
		var peaks []float64
		for i, l := range lines {
			if strings.HasPrefix(l, "ALERT") {
				for _, row := range lines[i+1:] {
					if f := strings.Fields(row); len(f) > 4 {
						p, err := strconv.ParseFloat(f[4], 64)
						if err != nil {
							t.Fatalf("peak column of %q: %v", row, err)
						}
						peaks = append(peaks, p)
					}
				}
			}
		}
		if len(peaks) == 0 || !slices.IsSortedFunc(peaks, func(a, b float64) int { return cmp.Compare(b, a) }) {
			t.Fatalf("peaks %v not highest first:\n%s", peaks, stdout)
		}
	})

	t.Run("a candidate config, as JSON", func(t *testing.T) {
		def := backtestOf(t, c.Data)
		cand := backtestOf(t, c.Data, "--config", candidate)
		if def.Reports != reports || cand.Reports != reports || cand.Devices != 8 {
			t.Fatalf("reports %s and %s of %d devices, want %s of 8", def.Reports, cand.Reports, cand.Devices, reports)
		}
		for _, d := range farm {
			if !slices.Contains(def.atReview(), d) {
				t.Errorf("farm device %s not at review with the defaults", d)
			}
		}
		if def.farmPeak() < def.ReviewThreshold || cand.farmPeak() >= cand.ReviewThreshold {
			t.Fatalf("farm alert peaks %.2f with the defaults, %.2f with the farm weights at 0", def.farmPeak(), cand.farmPeak())
		}
		stdout, _, err := runCLI(t, c.Data, "model", "backtest", "--config", candidate)
		if err != nil || !strings.Contains(stdout, "Warning: config: proof-grade sign net.colocated") {
			t.Fatalf("the candidate's margin warnings: %v\n%s", err, stdout)
		}
	})

	t.Run("since and until", func(t *testing.T) {
		perDay := strconv.Itoa(24 * len(fleet.Devices))
		if got := backtestOf(t, c.Data, "--since", "2026-11-03"); got.Reports != perDay || got.FirstReport != "2026-11-03T23:00:00Z" {
			t.Fatalf("--since 2026-11-03: %s reports from %s", got.Reports, got.FirstReport)
		}
		if got := backtestOf(t, c.Data, "--until", "2026-11-03T23:00:00Z"); got.Reports != perDay || got.FirstReport != "2026-11-02T23:00:00Z" {
			t.Fatalf("--until: %s reports from %s", got.Reports, got.FirstReport)
		}
		_, _, err := runCLI(t, c.Data, "model", "backtest", "--since", "2026-11-05")
		if err == nil || !strings.Contains(err.Error(), "failedprecondition: nothing to replay: the store holds no reports received from 2026-11-05T00:00:00Z") {
			t.Fatalf("a range without reports: %v", err)
		}
		for _, tc := range []struct {
			args []string
			want string
		}{
			{[]string{"--since", "yesterday"}, `--since "yesterday": want RFC 3339`},
			{[]string{"--since", "2026-11-03", "--until", "2026-11-03"}, "--since 2026-11-03 is not before --until 2026-11-03"},
			{[]string{"--report-interval", "1h"}, "--report-interval is for --store"},
			{[]string{"--config", filepath.Join(dir, "missing.yaml")}, "--config: open"},
			{[]string{"-o", "yaml"}, "want table, json or wide"},
		} {
			if _, _, err := runCLI(t, c.Data, append([]string{"model", "backtest"}, tc.args...)...); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("model backtest %v: %v, want %q", tc.args, err, tc.want)
			}
		}
	})

	t.Run("a backup offline", func(t *testing.T) {
		backup := filepath.Join(dir, "backup.db")
		if _, _, err := runCLI(t, c.Data, "backup", backup); err != nil {
			t.Fatal(err)
		}
		online := backtestOf(t, c.Data, "--config", candidate)
		// The collector runs at the default 5-minute interval.
		offline := backtestOf(t, c.Data, "--store", backup, "--config", candidate)
		if offline.Reports != online.Reports || !slices.Equal(offline.atReview(), online.atReview()) || offline.Recall != online.Recall {
			t.Fatalf("offline: %s reports, at review %v, recall %.2f; online: %s, %v, %.2f", offline.Reports, offline.atReview(), offline.Recall,
				online.Reports, online.atReview(), online.Recall)
		}
	})

	t.Run("foreign and busy stores", func(t *testing.T) {
		text := filepath.Join(dir, "notes.txt")
		os.WriteFile(text, []byte("hello\n"), 0o644)
		other := filepath.Join(dir, "other.db")
		db, err := bolt.Open(other, 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("widgets")); return err })
		db.Close()
		for _, tc := range []struct{ store, want string }{
			{text, text + " is not a farmwatch store: not a bbolt database"},
			{other, other + " is not a farmwatch store: a bbolt database without farmwatch's meta bucket"},
			{c.Data, "is locked by a running collector: take a copy with `farmwatch backup FILE`"},
		} {
			if _, _, err := runCLI(t, c.Data, "model", "backtest", "--store", tc.store); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("--store %s: %v, want %q", tc.store, err, tc.want)
			}
		}
	})
}

func TestModelBacktestOfAnEmptyCollector(t *testing.T) {
	c := testcollector.Start(t, nil)
	_, _, err := runCLI(t, c.Data, "model", "backtest")
	if err == nil || !strings.Contains(err.Error(), "failedprecondition: nothing to replay: the store holds no reports") {
		t.Fatalf("backtest of an empty collector: %v", err)
	}
	backup := filepath.Join(t.TempDir(), "empty.db")
	if _, _, err := runCLI(t, c.Data, "backup", backup); err != nil {
		t.Fatal(err)
	}
	_, _, err = runCLI(t, c.Data, "model", "backtest", "--store", backup)
	if err == nil || !strings.Contains(err.Error(), "nothing to replay: the store holds no reports") {
		t.Fatalf("offline backtest of an empty backup: %v", err)
	}
}
