package server_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/farmwatch/farmwatch/collector/analysis"
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

// backtestFleet is the demo's fleet (a farm driven from China, a VPN exit
// abroad, a controller in North Korea, an IP-KVM, honest hires) reporting
// four times, three hours apart, to a collector whose report interval is an
// hour.
func backtestFleet(t *testing.T) (*testcollector.Collector, *sim.Fleet, time.Time) {
	t.Helper()
	start := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	clk := &testClock{t: start}
	c := testcollector.Start(t, func(cfg *server.Config) {
		cfg.Now = clk.Now
		cfg.ReportInterval = time.Hour
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	fleet := sim.Plan(8, 11)
	t.Cleanup(fleet.Close)
	fp, _ := c.Options().CAFingerprint()
	if err := fleet.Register(ctx, c.Admin); err != nil {
		t.Fatal(err)
	}
	if err := fleet.Enroll(ctx, c.Addr(), fp, 8); err != nil {
		t.Fatal(err)
	}
	for k := range 4 {
		now := start.Add(time.Duration(3*k) * time.Hour)
		clk.Set(now)
		if st, err := fleet.Send(ctx, now, 1, 8); err != nil || st.Acked != len(fleet.Devices) {
			t.Fatalf("round %d: %d acknowledged, %v", k, st.Acked, err)
		}
	}
	return c, fleet, start
}

func deviceAlertOf(res *pb.BacktestResponse, device string) *pb.Alert {
	for _, a := range res.GetAlerts() {
		if a.GetKind() == analysis.AlertKindDevice && a.GetDeviceId() == device {
			return a
		}
	}
	return nil
}

func farmsAtReview(res *pb.BacktestResponse) int {
	n := 0
	for _, a := range res.GetAlerts() {
		if a.GetKind() == analysis.AlertKindFarm && a.GetPeakScore() >= res.GetReviewThreshold() {
			n++
		}
	}
	return n
}

func shows(a *pb.Alert, rule string) bool {
	for _, e := range a.GetEvidence() {
		if e.GetRule() == rule {
			return true
		}
	}
	return false
}

func TestBacktestRPC(t *testing.T) {
	c, fleet, start := backtestFleet(t)
	ctx := context.Background()
	v := viewer(t, c)
	var kvm string
	for _, d := range fleet.Devices {
		if d.Scenario == sim.IPKVM {
			kvm = d.ID()
		}
	}

	t.Run("a viewer replays with the collector's config", func(t *testing.T) {
		res, err := v.Backtest(ctx, &pb.BacktestRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if res.GetReports() != uint64(4*len(fleet.Devices)) || int(res.GetDevices()) != len(fleet.Devices) || res.GetReviewThreshold() != 0.5 {
			t.Fatalf("%d reports of %d devices, review %.2f", res.GetReports(), res.GetDevices(), res.GetReviewThreshold())
		}
		if !res.GetFirstReport().AsTime().Equal(start) || !res.GetLastReport().AsTime().Equal(start.Add(9*time.Hour)) {
			t.Fatalf("span %s - %s", res.GetFirstReport().AsTime(), res.GetLastReport().AsTime())
		}
		a := deviceAlertOf(res, kvm)
		if a == nil || a.GetPeakScore() < 0.5 {
			t.Fatalf("IP-KVM device alert in the replay: %v", a)
		}
		// The collector's hour is the replay's interval: three hours without
		// a report is not silence (6 intervals and at least min_silent).
		if shows(a, analysis.RuleSilent) {
			t.Fatalf("replay took three hours for silence: %v", a.GetEvidence())
		}
		if n := farmsAtReview(res); n != 1 {
			t.Fatalf("%d farm alerts at review, want the farm's", n)
		}
		if !strings.Contains(strings.Join(res.GetWarnings(), "\n"), "no resolved alert with a verdict") {
			t.Fatalf("warnings %q", res.GetWarnings())
		}
	})

	t.Run("the collector's report interval is carried into a given config", func(t *testing.T) {
		// At 5 minutes, 6 intervals would be half an hour: min_silent (1 h)
		// would make every 3-hour gap silence.
		res, err := v.Backtest(ctx, &pb.BacktestRequest{ConfigYaml: []byte("silence:\n  min_silent: 1h\n")})
		if err != nil {
			t.Fatal(err)
		}
		if a := deviceAlertOf(res, kvm); a == nil || shows(a, analysis.RuleSilent) {
			t.Fatalf("IP-KVM alert %v: silence at 5-minute intervals, not the collector's hour", a)
		}
		res, err = v.Backtest(ctx, &pb.BacktestRequest{ConfigYaml: []byte("silence:\n  min_silent: 1h\n  intervals: 2\n")})
		if err != nil {
			t.Fatal(err)
		}
		if a := deviceAlertOf(res, kvm); a == nil || !shows(a, analysis.RuleSilent) {
			t.Fatalf("IP-KVM alert %v: no silence after 2 hourly intervals of a 3-hour gap", a)
		}
	})

	t.Run("the given config is the one replayed", func(t *testing.T) {
		res, err := v.Backtest(ctx, &pb.BacktestRequest{ConfigYaml: []byte("weights:\n  net.colocated: 0\n  farm.shared_network: 0\n  farm.claimed_homes: 0\n  farm.far_from_homes: 0\n")})
		if err != nil {
			t.Fatal(err)
		}
		if n := farmsAtReview(res); n != 0 {
			t.Fatalf("%d farm alerts at review with the farm weights at 0", n)
		}
		if !strings.Contains(strings.Join(res.GetWarnings(), "\n"), "config: proof-grade sign net.colocated") {
			t.Fatalf("no warning that net.colocated breaks its margin: %q", res.GetWarnings())
		}
	})

	t.Run("bad input", func(t *testing.T) {
		_, err := v.Backtest(ctx, &pb.BacktestRequest{ConfigYaml: []byte("weights:\n  net.colocatd: 1\n")})
		wantStatus(t, err, codes.InvalidArgument, `config_yaml: weights: unknown rule "net.colocatd"`)
		_, err = v.Backtest(ctx, &pb.BacktestRequest{ConfigYaml: []byte("prior: [\n")})
		wantStatus(t, err, codes.InvalidArgument, "config_yaml: analysis config: yaml")
		_, err = v.Backtest(ctx, &pb.BacktestRequest{Since: timestamppb.New(start.Add(time.Hour)), Until: timestamppb.New(start)})
		wantStatus(t, err, codes.InvalidArgument, "is not before until")
		_, err = v.Backtest(ctx, &pb.BacktestRequest{Since: timestamppb.New(start.Add(48 * time.Hour))})
		wantStatus(t, err, codes.FailedPrecondition, "no reports received from 2026-11-04T09:00:00Z")
		_, err = v.Backtest(ctx, &pb.BacktestRequest{Since: &timestamppb.Timestamp{Seconds: 1, Nanos: -1}})
		wantStatus(t, err, codes.InvalidArgument, "since:")
	})

	t.Run("one at a time", func(t *testing.T) {
		entered, release := make(chan struct{}), make(chan struct{})
		server.SetBacktestStarted(t, func(context.Context) {
			close(entered)
			<-release
		})
		done := make(chan error, 1)
		go func() {
			_, err := v.Backtest(ctx, &pb.BacktestRequest{})
			done <- err
		}()
		<-entered
		server.SetBacktestStarted(t, func(context.Context) {})
		_, err := c.Admin.Backtest(ctx, &pb.BacktestRequest{})
		wantStatus(t, err, codes.ResourceExhausted, "a backtest is running already")
		close(release)
		if err := <-done; err != nil {
			t.Fatalf("the backtest held in flight: %v", err)
		}
		if _, err := c.Admin.Backtest(ctx, &pb.BacktestRequest{}); err != nil {
			t.Fatalf("a backtest after the first ended: %v", err)
		}
	})

	t.Run("the call's deadline stops it", func(t *testing.T) {
		// Held until the deadline has passed, the backtest then starts its
		// replay on a dead context.
		stopped := make(chan struct{})
		server.SetBacktestStarted(t, func(ctx context.Context) {
			<-ctx.Done()
			close(stopped)
		})
		short, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		_, err := v.Backtest(short, &pb.BacktestRequest{})
		wantStatus(t, err, codes.DeadlineExceeded, "")
		<-stopped
		server.SetBacktestStarted(t, func(context.Context) {})
		// The slot is free again once the stopped backtest has returned.
		deadline := time.Now().Add(30 * time.Second)
		for {
			_, err := v.Backtest(ctx, &pb.BacktestRequest{})
			if err == nil {
				break
			}
			wantStatus(t, err, codes.ResourceExhausted, "running already")
			if time.Now().After(deadline) {
				t.Fatal("the backtest past its deadline still holds the slot after 30 s")
			}
			time.Sleep(50 * time.Millisecond)
		}
		left, _ := filepath.Glob(filepath.Join(c.Data, analysis.ScratchPrefix+"*"))
		if len(left) != 0 {
			t.Fatalf("scratch stores left in the data dir: %v", left)
		}
	})
}

func TestBacktestRPCOfAnEmptyStore(t *testing.T) {
	c := testcollector.Start(t, nil)
	_, err := viewer(t, c).Backtest(context.Background(), &pb.BacktestRequest{})
	wantStatus(t, err, codes.FailedPrecondition, "the store holds no reports")
	// A scratch store left by a collector stopped mid-backtest is removed
	// by the next backtest.
	stale := filepath.Join(c.Data, analysis.ScratchPrefix+"123")
	if err := os.Mkdir(stale, 0o700); err != nil {
		t.Fatal(err)
	}
	_, err = c.Admin.Backtest(context.Background(), &pb.BacktestRequest{})
	wantStatus(t, err, codes.FailedPrecondition, "the store holds no reports")
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Fatalf("stale scratch dir: %v", err)
	}
}
