package analysis_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/farmwatch/farmwatch/collector/analysis"
	"github.com/farmwatch/farmwatch/collector/server"
	"github.com/farmwatch/farmwatch/collector/store"
	"github.com/farmwatch/farmwatch/internal/testcollector"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
	"github.com/farmwatch/farmwatch/sim"

	"google.golang.org/protobuf/types/known/timestamppb"
)

// suiteConfig is the analysis config the scenario suite's collector runs
// with: the company's VPN egress and VPN client allowlisted.
var suiteConfig = "allow:\n  egress_cidrs: [" + sim.CompanyEgress + "]\n  vpn_interface_prefixes: [gpd]\n"

// noFarmConfig zeroes farm membership and the farm alerts' own lines.
var noFarmConfig = suiteConfig + "weights:\n  net.colocated: 0\n  farm.shared_network: 0\n  farm.claimed_homes: 0\n  farm.far_from_homes: 0\n"

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

// liveFleet is the simulator's scenario fleet run through a real collector
// (enrollment, mutual TLS, trusted-proxy public IPs) report by report, an
// hour apart, with the collector's sweep run at every hour as its own loop
// would: the store a backtest replays, and the alerts the live analysis
// raised in it.
type liveFleet struct {
	c     *testcollector.Collector
	fleet *sim.Fleet
	start time.Time
	hours int
	// live are the collector's alerts before any verdict.
	live []*pb.Alert
}

const fleetHours = 48

// kvmOffAfter is the hour from which the IP-KVM laptop sends nothing: the
// sweeps take it for a silent agent a day later, live and in the replay.
const kvmOffAfter = 20

func runLiveFleet(t *testing.T) *liveFleet {
	t.Helper()
	start := time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)
	clk := &clock{t: start}
	cfgPath := filepath.Join(t.TempDir(), "analysis.yaml")
	if err := os.WriteFile(cfgPath, []byte(suiteConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	c := testcollector.Start(t, func(cfg *server.Config) {
		cfg.Now = clk.Now
		cfg.AnalysisConfig = cfgPath
		cfg.ReportInterval = time.Hour
		cfg.SweepInterval = 24 * time.Hour // swept below, at simulated hours only
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	fleet := sim.Suite(42)
	t.Cleanup(fleet.Close)
	// The three-laptop farm runs no remote-access tool and its lids stand
	// open: its shared network shows it, and only weak signs besides, so
	// the weights on farms decide whether it is found.
	for _, d := range fleet.Devices {
		if d.Scenario == sim.Farm {
			d.Tools, d.Lid = nil, "open"
		}
	}
	fp, _ := c.Options().CAFingerprint()
	if err := fleet.Register(ctx, c.Admin); err != nil {
		t.Fatal(err)
	}
	if err := fleet.Enroll(ctx, c.Addr(), fp, 8); err != nil {
		t.Fatal(err)
	}
	for h := range fleetHours {
		at := start.Add(time.Duration(h) * time.Hour)
		clk.Set(at)
		if _, err := c.Sweep(); err != nil {
			t.Fatal(err)
		}
		if err := sendHour(ctx, fleet, uint64(h+1), at, h, h >= kvmOffAfter); err != nil {
			t.Fatalf("hour %d: %v", h, err)
		}
	}
	alerts, err := c.Admin.ListAlerts(ctx, &pb.ListAlertsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	return &liveFleet{c: c, fleet: fleet, start: start, hours: fleetHours, live: alerts.GetAlerts()}
}

// sendHour makes every device online in the suite hour deliver its report of
// this hour, eight at a time, from where it is; the IP-KVM laptop not when
// kvmOff.
func sendHour(ctx context.Context, fleet *sim.Fleet, seq uint64, at time.Time, hour int, kvmOff bool) error {
	sem := make(chan struct{}, 8)
	errs := make(chan error, len(fleet.Devices))
	var wg sync.WaitGroup
	for _, d := range fleet.Devices {
		n := d.At(hour)
		if (kvmOff && d.Scenario == sim.IPKVM) || !n.Online {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			resp, err := d.SendFrom(ctx, n.IP, []*pb.Report{d.Report(seq, at, hour)})
			if err == nil && len(resp.GetAcknowledged()) != 1 {
				err = fmt.Errorf("device %s: report %d not acknowledged", d.ID(), seq)
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// sent is how many reports the fleet delivered: every device in every hour
// it was online, the IP-KVM laptop until it went quiet.
func (f *liveFleet) sent() uint64 {
	var n uint64
	for _, d := range f.fleet.Devices {
		for h := range f.hours {
			if d.At(h).Online && (d.Scenario != sim.IPKVM || h < kvmOffAfter) {
				n++
			}
		}
	}
	return n
}

func (f *liveFleet) devices(scenario string) []string {
	var out []string
	for _, d := range f.fleet.Devices {
		if d.Scenario == scenario {
			out = append(out, d.ID())
		}
	}
	sort.Strings(out)
	return out
}

// peaks is each device's highest peak score among the alerts naming it.
func peaks(alerts []*pb.Alert) map[string]float64 {
	out := map[string]float64{}
	for _, a := range alerts {
		devs := a.GetMemberDevices()
		if a.GetKind() == analysis.AlertKindDevice {
			devs = []string{a.GetDeviceId()}
		}
		for _, d := range devs {
			out[d] = max(out[d], a.GetPeakScore())
		}
	}
	return out
}

func atReview(alerts []*pb.Alert, review float64) []string {
	var out []string
	for d, p := range peaks(alerts) {
		if p >= review {
			out = append(out, d)
		}
	}
	sort.Strings(out)
	return out
}

func farmsAtReview(alerts []*pb.Alert, review float64) int {
	n := 0
	for _, a := range alerts {
		if a.GetKind() == analysis.AlertKindFarm && a.GetPeakScore() >= review {
			n++
		}
	}
	return n
}

func mustConfig(t *testing.T, yaml string, interval time.Duration) analysis.Config {
	t.Helper()
	cfg, err := analysis.ParseConfig([]byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	cfg.ReportInterval = interval
	return cfg
}

// resolve gives the first alert naming device a verdict, through the API.
func (f *liveFleet) resolve(t *testing.T, device, kind, verdict string) {
	t.Helper()
	for _, a := range f.live {
		if a.GetKind() == kind && (a.GetDeviceId() == device || slices.Contains(a.GetMemberDevices(), device)) {
			if _, err := f.c.Admin.ResolveAlert(context.Background(), &pb.ResolveAlertRequest{Id: a.GetId(), Verdict: verdict, Note: "backtest fixture"}); err != nil {
				t.Fatal(err)
			}
			return
		}
	}
	t.Fatalf("no %s alert names %s", kind, device)
}

func TestBacktest(t *testing.T) {
	f := runLiveFleet(t)
	ctx := context.Background()
	review := analysis.DefaultConfig().ReviewThreshold
	liveAtReview := atReview(f.live, review)
	smallFarm, bigFarm := f.devices(sim.Farm), f.devices(sim.BigFarm)
	for _, d := range append(slices.Clone(smallFarm), bigFarm...) {
		if !slices.Contains(liveAtReview, d) {
			t.Fatalf("the live analysis did not put farm device %s at review: the fixture proves nothing", d)
		}
	}

	if !hasRule(f.live, f.devices(sim.IPKVM)[0], analysis.RuleSilent) {
		t.Fatal("the live sweep did not mark the switched-off IP-KVM laptop silent: the fixture proves nothing of the replay's sweeps")
	}

	// Verdicts: both farms and the IP-KVM confirmed; the hire behind a VPN
	// abroad judged honest by a reviewer.
	f.resolve(t, smallFarm[0], analysis.AlertKindFarm, "confirmed")
	f.resolve(t, bigFarm[0], analysis.AlertKindFarm, "confirmed")
	f.resolve(t, f.devices(sim.IPKVM)[0], analysis.AlertKindDevice, "confirmed")
	f.resolve(t, f.devices(sim.VPN)[0], analysis.AlertKindDevice, "false-positive")
	confirmed := len(smallFarm) + len(bigFarm) + 1

	t.Run("same config as the live analysis raises the same alerts", func(t *testing.T) {
		scratch := t.TempDir()
		res, err := analysis.Backtest(ctx, f.c.Store(), analysis.BacktestOptions{Config: mustConfig(t, suiteConfig, time.Hour), ScratchDir: scratch})
		if err != nil {
			t.Fatal(err)
		}
		if want := f.sent(); res.GetReports() != want || int(res.GetDevices()) != len(f.fleet.Devices) {
			t.Fatalf("replayed %d reports of %d devices, want %d of %d", res.GetReports(), res.GetDevices(), want, len(f.fleet.Devices))
		}
		if !res.GetFirstReport().AsTime().Equal(f.start) || !res.GetLastReport().AsTime().Equal(f.start.Add(time.Duration(f.hours-1)*time.Hour)) {
			t.Fatalf("span %s - %s", res.GetFirstReport().AsTime(), res.GetLastReport().AsTime())
		}
		if got := atReview(res.GetAlerts(), review); !slices.Equal(got, liveAtReview) {
			t.Fatalf("devices at review: replay %v, live %v", got, liveAtReview)
		}
		livePeaks, replayPeaks := peaks(f.live), peaks(res.GetAlerts())
		for d, p := range livePeaks {
			if diff := replayPeaks[d] - p; diff > 1e-9 || diff < -1e-9 {
				t.Errorf("device %s: peak score %.6f in the replay, %.6f live", d, replayPeaks[d], p)
			}
		}
		if len(res.GetAlerts()) != len(f.live) {
			t.Errorf("%d alerts in the replay, %d live", len(res.GetAlerts()), len(f.live))
		}
		for i := 1; i < len(res.GetAlerts()); i++ {
			if res.GetAlerts()[i].GetPeakScore() > res.GetAlerts()[i-1].GetPeakScore() {
				t.Fatalf("alerts not highest peak first at %d", i)
			}
		}
		if res.GetConfirmedDevices() != uint32(confirmed) || res.GetFalsePositiveDevices() != 1 {
			t.Fatalf("verdicts: %d confirmed, %d false-positive devices; want %d and 1", res.GetConfirmedDevices(), res.GetFalsePositiveDevices(), confirmed)
		}
		if res.GetTruePositives() != uint32(confirmed) || res.GetFalsePositives() != 1 || res.GetFalseNegatives() != 0 {
			t.Fatalf("TP %d FP %d FN %d", res.GetTruePositives(), res.GetFalsePositives(), res.GetFalseNegatives())
		}
		if want := float64(confirmed) / float64(confirmed+1); res.GetPrecision() != want || res.GetRecall() != 1 {
			t.Fatalf("precision %.3f recall %.3f, want %.3f and 1", res.GetPrecision(), res.GetRecall(), want)
		}
		if want := uint32(len(liveAtReview) - confirmed - 1); res.GetUnjudgedAtReview() != want {
			t.Fatalf("%d unjudged at review, want %d", res.GetUnjudgedAtReview(), want)
		}
		if len(res.GetWarnings()) != 0 {
			t.Fatalf("warnings: %q", res.GetWarnings())
		}
		if left, _ := os.ReadDir(scratch); len(left) != 0 {
			t.Fatalf("scratch store left behind: %v", left)
		}
	})

	t.Run("without farm weights the farms fall below review and recall drops", func(t *testing.T) {
		res, err := analysis.Backtest(ctx, f.c.Store(), analysis.BacktestOptions{Config: mustConfig(t, noFarmConfig, time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		if n := farmsAtReview(res.GetAlerts(), review); n != 0 {
			t.Fatalf("%d farm alerts at review with the farm weights at 0", n)
		}
		got := atReview(res.GetAlerts(), review)
		for _, d := range smallFarm {
			if slices.Contains(got, d) {
				t.Errorf("device %s of the farm without remote access is at review with the farm weights at 0", d)
				for _, a := range res.GetAlerts() {
					if a.GetDeviceId() == d || slices.Contains(a.GetMemberDevices(), d) {
						t.Logf("  %s %s peak %.3f: %s", a.GetId(), a.GetKind(), a.GetPeakScore(), a.GetSummary())
						for _, e := range a.GetEvidence() {
							t.Logf("    %+.2f (peak %.2f) %s: %s", e.GetWeight(), e.GetPeakWeight(), e.GetRule(), e.GetExplanation())
						}
					}
				}
			}
		}
		for _, d := range bigFarm { // driven from China: found by its own evidence
			if !slices.Contains(got, d) {
				t.Errorf("device %s of the remote-controlled farm fell below review", d)
			}
		}
		if res.GetFalseNegatives() != uint32(len(smallFarm)) || res.GetTruePositives() != uint32(confirmed-len(smallFarm)) {
			t.Fatalf("TP %d FN %d, want %d and %d", res.GetTruePositives(), res.GetFalseNegatives(), confirmed-len(smallFarm), len(smallFarm))
		}
		if want := float64(confirmed-len(smallFarm)) / float64(confirmed); res.GetRecall() != want {
			t.Fatalf("recall %.3f, want %.3f", res.GetRecall(), want)
		}
		if !hasWarning(res, "config: proof-grade sign net.colocated") {
			t.Fatalf("no config warning for net.colocated at 0: %q", res.GetWarnings())
		}
	})

	t.Run("since and until", func(t *testing.T) {
		cfg := mustConfig(t, suiteConfig, time.Hour)
		since, until := f.start.Add(24*time.Hour), f.start.Add(30*time.Hour)
		res, err := analysis.Backtest(ctx, f.c.Store(), analysis.BacktestOptions{Config: cfg, Since: since, Until: until})
		if err != nil {
			t.Fatal(err)
		}
		if want := uint64((len(f.fleet.Devices) - 1) * 6); res.GetReports() != want {
			t.Fatalf("%d reports in [24h, 30h), want %d", res.GetReports(), want)
		}
		if !res.GetFirstReport().AsTime().Equal(since) || !res.GetLastReport().AsTime().Equal(until.Add(-time.Hour)) {
			t.Fatalf("span %s - %s", res.GetFirstReport().AsTime(), res.GetLastReport().AsTime())
		}
		// Devices enrolled before since are not taken for silent agents.
		for _, a := range res.GetAlerts() {
			for _, e := range a.GetEvidence() {
				if e.GetRule() == analysis.RuleSilent {
					t.Fatalf("alert %s: %s in a replay from since", a.GetId(), e.GetExplanation())
				}
			}
		}
		res, err = analysis.Backtest(ctx, f.c.Store(), analysis.BacktestOptions{Config: cfg, Until: f.start.Add(2 * time.Hour)})
		if err != nil || res.GetReports() != uint64(2*len(f.fleet.Devices)) {
			t.Fatalf("until 2h: %d reports, %v", res.GetReports(), err)
		}
		_, err = analysis.Backtest(ctx, f.c.Store(), analysis.BacktestOptions{Config: cfg, Since: until, Until: since})
		if !errors.Is(err, analysis.ErrBadRange) || !strings.Contains(err.Error(), "is not before until") {
			t.Fatalf("since after until: %v", err)
		}
		_, err = analysis.Backtest(ctx, f.c.Store(), analysis.BacktestOptions{Config: cfg, Since: f.start.Add(100 * time.Hour)})
		if !errors.Is(err, analysis.ErrNoReports) || !strings.Contains(err.Error(), "no reports received from 2026-11-06T04:00:00Z") ||
			!strings.Contains(err.Error(), "it holds reports from 2026-11-02T00:00:00Z to 2026-11-03T23:00:00Z") {
			t.Fatalf("a range without reports: %v", err)
		}
	})

	t.Run("a backup replays offline as the live store does", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "backup.db")
		out, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		snap, err := f.c.Store().Snapshot(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(out, snap); err != nil {
			t.Fatal(err)
		}
		snap.Close()
		out.Close()
		src, err := store.OpenReadOnly(path)
		if err != nil {
			t.Fatal(err)
		}
		defer src.Close()
		cfg := mustConfig(t, noFarmConfig, time.Hour)
		offline, err := analysis.Backtest(ctx, src, analysis.BacktestOptions{Config: cfg})
		if err != nil {
			t.Fatal(err)
		}
		online, err := analysis.Backtest(ctx, f.c.Store(), analysis.BacktestOptions{Config: cfg})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(atReview(offline.GetAlerts(), review), atReview(online.GetAlerts(), review)) ||
			offline.GetRecall() != online.GetRecall() || offline.GetReports() != online.GetReports() {
			t.Fatalf("offline: %d reports, recall %.2f; online: %d reports, recall %.2f",
				offline.GetReports(), offline.GetRecall(), online.GetReports(), online.GetRecall())
		}
	})

	t.Run("a cancelled context stops it", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := analysis.Backtest(cctx, f.c.Store(), analysis.BacktestOptions{Config: mustConfig(t, suiteConfig, time.Hour)}); !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled: %v", err)
		}
	})
}

// hasRule tells whether a device alert of device shows rule.
func hasRule(alerts []*pb.Alert, device, rule string) bool {
	for _, a := range alerts {
		if a.GetDeviceId() != device {
			continue
		}
		for _, e := range a.GetEvidence() {
			if e.GetRule() == rule {
				return true
			}
		}
	}
	return false
}

func hasWarning(res *pb.BacktestResponse, prefix string) bool {
	for _, w := range res.GetWarnings() {
		if strings.HasPrefix(w, prefix) {
			return true
		}
	}
	return false
}

func TestBacktestOfAnEmptyStoreSaysSo(t *testing.T) {
	s, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, err = analysis.Backtest(context.Background(), s, analysis.BacktestOptions{Config: analysis.DefaultConfig()})
	if !errors.Is(err, analysis.ErrNoReports) || !strings.Contains(err.Error(), "the store holds no reports") {
		t.Fatalf("backtest of an empty store: %v", err)
	}
}

// TestBacktestSaysWhatItSkipped builds a store straight through the store
// API: one device whose hire exists, and one whose hire was removed.
func TestBacktestSaysWhatItSkipped(t *testing.T) {
	s, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	t0 := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	err = s.Update(func(tx *store.Tx) error {
		// A declared move after the reports began.
		if err := tx.PutHire(&pb.Hire{Id: "h-1", Name: "Ana Lee", ClaimedHome: "Austin, TX, US", UpdatedAt: timestamppb.New(t0.Add(time.Hour))}); err != nil {
			return err
		}
		for _, d := range []*pb.Device{{Id: "d-1", HireId: "h-1"}, {Id: "d-2", HireId: "h-gone"}} {
			d.EnrolledAt = timestamppb.New(t0)
			if err := tx.PutDevice(d); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	report := func(seq uint64, at time.Time) *pb.StoredReport {
		return &pb.StoredReport{Report: &pb.Report{Seq: seq, CollectedAt: timestamppb.New(at)}, ReceivedAt: timestamppb.New(at), PublicIp: "203.0.113.7"}
	}
	for i := range 3 {
		at := t0.Add(time.Duration(i) * time.Hour)
		if _, err := s.Ingest("d-1", []*pb.StoredReport{report(uint64(i+1), at)}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Ingest("d-2", []*pb.StoredReport{report(uint64(i+1), at.Add(time.Minute))}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Ingest("d-2", []*pb.StoredReport{report(4, t0.Add(5*time.Hour))}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	res, err := analysis.Backtest(ctx, s, analysis.BacktestOptions{Config: analysis.DefaultConfig()})
	if err != nil {
		t.Fatal(err)
	}
	if res.GetReports() != 3 || res.GetDevices() != 1 {
		t.Fatalf("replayed %d reports of %d devices, want 3 of 1", res.GetReports(), res.GetDevices())
	}
	if !hasWarning(res, "4 reports skipped: 4 because their hire no longer exists") {
		t.Errorf("no warning of the skipped reports: %q", res.GetWarnings())
	}
	if !hasWarning(res, "the store holds no resolved alert with a verdict") {
		t.Errorf("no warning that there are no verdicts: %q", res.GetWarnings())
	}
	if !hasWarning(res, "hires changed after the first replayed report (a declared move, a corrected record): 1;") {
		t.Errorf("no warning of the changed hire: %q", res.GetWarnings())
	}
	if res.GetPrecision() != 0 || res.GetRecall() != 0 || res.GetConfirmedDevices() != 0 {
		t.Errorf("precision %.2f, recall %.2f from no verdicts", res.GetPrecision(), res.GetRecall())
	}
	_, err = analysis.Backtest(ctx, s, analysis.BacktestOptions{Config: analysis.DefaultConfig(), Since: t0.Add(4 * time.Hour)})
	if !errors.Is(err, analysis.ErrNoReports) || !strings.Contains(err.Error(), "none of the 1 reports received from 2026-11-02T13:00:00Z could be replayed (1 because their hire no longer exists)") {
		t.Fatalf("only unreplayable reports: %v", err)
	}
}
