package sim_test

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/farmwatch/farmwatch/collector/analysis"
	"github.com/farmwatch/farmwatch/collector/server"
	"github.com/farmwatch/farmwatch/collector/store"
	"github.com/farmwatch/farmwatch/internal/testcollector"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
	"github.com/farmwatch/farmwatch/sim"
)

// clock is the collector's clock in the suite: days pass in seconds.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

const (
	reviewThreshold = 0.5
	margin          = analysis.Margin
	suiteDays       = 5
)

// suiteConfig is the suite collector's analysis config: the company's VPN
// egress and headquarters' networks allowlisted, as an operator would.
func suiteConfig() string {
	return "allow:\n  egress_cidrs: [" + sim.CompanyEgress + "]\n  vpn_interface_prefixes: [gpd]\n" +
		"  office_bssids: [\"" + sim.OfficeBSSID + "\"]\n  office_gateway_macs: [\"" + sim.OfficeGateway + "\"]\n"
}

// outcome is what one scenario showed a reviewer at one cadence.
type outcome struct {
	devices, atReview int
	// margin is the smallest distance from review over the run: for an
	// honest case review minus its highest score (current or peak) at any
	// hour; for a planted one its lowest score (peak and current) minus
	// review at any hour from its detection deadline on.
	margin float64
	worst  string
}

// run is one cadence of the suite: the collector, the fleet and what each
// scenario showed.
type run struct {
	cadence  time.Duration
	c        *testcollector.Collector
	fleet    *sim.Fleet
	start    time.Time
	outcomes map[string]*outcome
}

// TestScenarioSuite drives every scenario type through the real gRPC path
// (enrollment, mutual TLS, trusted-proxy public IPs) for five days, once
// with an hourly report interval and once with the agent's default of five
// minutes, and checks at every simulated hour what a reviewer would see:
// every planted case at least Margin over the review threshold from its
// detection deadline on (in the queue and by its current score), every
// honest case at least Margin under it, current and peak, at every hour.
func TestScenarioSuite(t *testing.T) {
	cadences := []time.Duration{time.Hour, 5 * time.Minute}
	if raceEnabled {
		cadences = cadences[:1]
		t.Log("the race detector is on: the hourly cadence only (make test runs both cadences without it too)")
	}
	var runs []*run
	for _, cadence := range cadences {
		var r *run
		if !t.Run(cadence.String(), func(t *testing.T) { r = runSuite(t, cadence) }) {
			return
		}
		if r != nil { // nil when -run left this cadence out
			runs = append(runs, r)
		}
	}
	if len(runs) == 0 {
		return
	}
	var names []string
	for n := range runs[0].outcomes {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool {
		if sim.Bad(names[i]) != sim.Bad(names[j]) {
			return sim.Bad(names[i])
		}
		return names[i] < names[j]
	})
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprint(tw, "SCENARIO\tPLANTED\tDEVICES")
	for _, r := range runs {
		fmt.Fprintf(tw, "\tAT REVIEW (%s)\tSMALLEST MARGIN (%s)", r.cadence, r.cadence)
	}
	fmt.Fprintln(tw)
	for _, n := range names {
		planted := "no"
		if sim.Bad(n) {
			planted = "yes"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d", n, planted, runs[0].outcomes[n].devices)
		for _, r := range runs {
			o := r.outcomes[n]
			fmt.Fprintf(tw, "\t%d\t%+.3f", o.atReview, o.margin)
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
	t.Logf("scenario suite: %d devices, %d scenario types, %d days, review threshold %.2f, required margin %.2f\n%s",
		len(runs[0].fleet.Devices), len(names), suiteDays, reviewThreshold, margin, b.String())
	if len(names) < 20 {
		t.Errorf("only %d scenario types", len(names))
	}
}

// runSuite drives the fleet through the collector at one cadence and checks
// every hour.
func runSuite(t *testing.T, cadence time.Duration) *run {
	start := time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)
	clk := &clock{t: start}
	cfgPath := filepath.Join(t.TempDir(), "analysis.yaml")
	if err := os.WriteFile(cfgPath, []byte(suiteConfig()), 0o644); err != nil {
		t.Fatal(err)
	}
	c := testcollector.Start(t, func(cfg *server.Config) {
		cfg.Now = clk.Now
		cfg.AnalysisConfig = cfgPath
		cfg.ReportInterval = cadence
		cfg.SweepInterval = time.Hour // the suite sweeps at simulated hours itself
		cfg.Store.NoSync = true       // days of reports in seconds; durability is tested elsewhere
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	fp, _ := c.Options().CAFingerprint()
	fleet := sim.Suite(42)
	t.Cleanup(fleet.Close)
	if err := fleet.Register(ctx, c.Admin); err != nil {
		t.Fatal(err)
	}
	if err := fleet.Enroll(ctx, c.Addr(), fp, 8); err != nil {
		t.Fatal(err)
	}
	r := &run{cadence: cadence, c: c, fleet: fleet, start: start, outcomes: map[string]*outcome{}}
	for _, d := range fleet.Devices {
		o := r.outcomes[d.Scenario]
		if o == nil {
			o = &outcome{margin: math.Inf(1)}
			r.outcomes[d.Scenario] = o
		}
		o.devices++
	}
	for hour := 0; hour < 24*suiteDays; hour++ {
		if err := fleet.Updates(ctx, c.Admin, hour, hour); err != nil {
			t.Fatal(err)
		}
		// Each agent delivers the hour's reports (one, or twelve at five
		// minutes) at the end of the hour, as a spool flush would: the
		// collector judges each at its own collection time for local facts
		// and at the delivery for the network.
		hourStart := start.Add(time.Duration(hour) * time.Hour)
		clk.Set(hourStart.Add(time.Hour))
		st, err := fleet.SendHour(ctx, hour, hourStart, cadence, 16)
		if err != nil {
			t.Fatalf("hour %d: %v", hour, err)
		}
		if st.Acked != st.Reports {
			t.Fatalf("hour %d: %d of %d acknowledged", hour, st.Acked, st.Reports)
		}
		if _, err := c.Sweep(); err != nil {
			t.Fatal(err)
		}
		r.check(t, ctx, hour, false)
	}
	r.check(t, ctx, 24*suiteDays, true)
	r.checkFarms(t, ctx)
	r.logStateSizes(t)
	if cadence == time.Hour && !raceEnabled && !t.Failed() {
		t.Run("sensitivity", func(t *testing.T) { r.sensitivity(t, ctx) })
	}
	return r
}

// sensitivity replays the hourly run's reports (the backtest: a scratch
// store, the same order and times) with every weight moved 15 % down and
// up, one at a time, then all together, and checks that the suite still
// passes: every planted device at review (an alert naming it peaked at the
// threshold or above), no honest one. The margins are the suite's; here only
// the verdicts must hold, at the end of the five days.
func (r *run) sensitivity(t *testing.T, ctx context.Context) {
	base := analysis.DefaultConfig()
	type variant struct {
		name    string
		weights map[string]float64
	}
	var variants []variant
	for _, rule := range analysis.RuleNames() {
		if r, _ := analysis.LookupRule(rule); r.Source == analysis.SourceApplicant {
			continue // screens applications, never a device: TestApplicantSuite moves these
		}
		for _, f := range []float64{0.85, 1.15} {
			variants = append(variants, variant{fmt.Sprintf("%s x%.2f", rule, f), map[string]float64{rule: base.Weights[rule] * f}})
		}
	}
	for _, f := range []float64{0.85, 1.15} {
		all := map[string]float64{}
		for rule, w := range base.Weights {
			all[rule] = w * f
		}
		variants = append(variants, variant{fmt.Sprintf("every weight x%.2f", f), all})
	}
	failed := 0
	for _, v := range variants {
		var y strings.Builder
		y.WriteString(suiteConfig() + "weights:\n")
		for rule, w := range v.weights {
			fmt.Fprintf(&y, "  %s: %g\n", rule, w)
		}
		cfg, err := analysis.ParseConfig([]byte(y.String()))
		if err != nil {
			t.Fatal(err)
		}
		cfg.ReportInterval = r.cadence
		res, err := analysis.Backtest(ctx, r.c.Store(), analysis.BacktestOptions{Config: cfg, ScratchDir: t.TempDir()})
		if err != nil {
			t.Fatalf("%s: %v", v.name, err)
		}
		peak := map[string]float64{}
		for _, a := range res.GetAlerts() {
			devs := a.GetMemberDevices()
			if a.GetKind() == analysis.AlertKindDevice {
				devs = []string{a.GetDeviceId()}
			}
			for _, d := range devs {
				peak[d] = math.Max(peak[d], math.Max(a.GetPeakScore(), a.GetScore()))
			}
		}
		for _, d := range r.fleet.Devices {
			if d.Update != nil {
				// A replay judges every report against today's hire record:
				// the nomad's days before the declared move look like a
				// laptop abroad (the backtest warns of it).
				continue
			}
			if at := peak[d.ID()] >= reviewThreshold; at != d.Expected {
				failed++
				t.Errorf("%s: %s device %s peaks at %.3f (planted %v)", v.name, d.Scenario, d.ID(), peak[d.ID()], d.Expected)
			}
		}
	}
	t.Logf("sensitivity: %d configs (each of %d weights x0.85 and x1.15, then all of them together), %d wrong verdicts",
		len(variants), len(base.Weights), failed)
}

// check reads every alert, as a reviewer's queue would, and holds each
// device to its scenario's margin.
func (r *run) check(t *testing.T, ctx context.Context, hour int, final bool) {
	t.Helper()
	alerts, err := r.c.Admin.ListAlerts(ctx, &pb.ListAlertsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	type seen struct {
		current, peak float64 // over open alerts naming the device
		why           string
	}
	by := map[string]*seen{}
	for _, a := range alerts.GetAlerts() {
		if a.GetStatus() == "resolved" {
			continue
		}
		devs := a.GetMemberDevices()
		if a.GetKind() == analysis.AlertKindDevice {
			devs = []string{a.GetDeviceId()}
		}
		for _, d := range devs {
			s := by[d]
			if s == nil {
				s = &seen{}
				by[d] = s
			}
			if a.GetScore() > s.current {
				s.current, s.why = a.GetScore(), a.GetId()+" "+a.GetSummary()
			}
			s.peak = math.Max(s.peak, math.Max(a.GetPeakScore(), a.GetScore()))
		}
	}
	for _, d := range r.fleet.Devices {
		o := r.outcomes[d.Scenario]
		s := by[d.ID()]
		if s == nil {
			s = &seen{}
		}
		if final && s.peak >= reviewThreshold {
			o.atReview++
		}
		switch {
		case !d.Expected:
			m := reviewThreshold - math.Max(s.current, s.peak)
			if m < o.margin {
				o.margin, o.worst = m, fmt.Sprintf("hour %d: %s", hour, s.why)
			}
			if m < margin {
				t.Errorf("hour %d: honest %s device %s (%s) at %.3f (peak %.3f), not %.1f under review: %s",
					hour, d.Scenario, d.ID(), d.Hire.GetId(), s.current, s.peak, margin, s.why)
				explain(t, r.c, d.ID())
			}
		case hour >= d.DetectBy:
			m := math.Min(s.current, s.peak) - reviewThreshold
			if m < o.margin {
				o.margin, o.worst = m, fmt.Sprintf("hour %d: %s", hour, s.why)
			}
			if m < margin {
				t.Errorf("hour %d (detect by %d): planted %s device %s (%s) at %.3f (peak %.3f), not %.1f over review: %s",
					hour, d.DetectBy, d.Scenario, d.ID(), d.Hire.GetId(), s.current, s.peak, margin, s.why)
				explain(t, r.c, d.ID())
			}
		}
	}
}

// logStateSizes logs what the analysis keeps per device after the run: the
// state stored in each device record (docs/PERFORMANCE.md quotes it).
func (r *run) logStateSizes(t *testing.T) {
	sizes := map[bool][]int{}
	r.c.Store().View(func(tx *store.Tx) error {
		for _, d := range r.fleet.Devices {
			sizes[d.Expected] = append(sizes[d.Expected], len(tx.DeviceState(d.ID())))
		}
		return nil
	})
	for _, planted := range []bool{false, true} {
		n, sum, most := len(sizes[planted]), 0, 0
		for _, b := range sizes[planted] {
			sum, most = sum+b, max(most, b)
		}
		t.Logf("analysis state after %d days at %s: %d %s devices, mean %d bytes, largest %d bytes",
			suiteDays, r.cadence, n, map[bool]string{false: "honest", true: "planted"}[planted], sum/max(n, 1), most)
	}
}

// checkFarms: every planted farm's devices are in one open farm alert of
// their own, whose score its own lines make, and a farm's place is where
// its shared network is, even with a member away on a hotspot.
func (r *run) checkFarms(t *testing.T, ctx context.Context) {
	t.Helper()
	alerts, err := r.c.Admin.ListAlerts(ctx, &pb.ListAlertsRequest{Status: "open"})
	if err != nil {
		t.Fatal(err)
	}
	farmOf := map[string]*pb.Alert{}
	farms := 0
	for _, a := range alerts.GetAlerts() {
		if a.GetKind() != analysis.AlertKindFarm {
			continue
		}
		farms++
		for _, d := range a.GetMemberDevices() {
			farmOf[d] = a
		}
		want := analysis.Score(analysis.DefaultConfig().Prior, a.GetEvidence())
		if math.Abs(want-a.GetScore()) > 1e-9 || len(a.GetMemberScores()) != len(a.GetMemberDevices()) {
			t.Errorf("farm alert %s scores %.3f, its lines make %.3f; member scores %v", a.GetId(), a.GetScore(), want, a.GetMemberScores())
		}
	}
	planted := map[string]map[string]bool{} // scenario -> farm alert ids
	for _, d := range r.fleet.Devices {
		a := farmOf[d.ID()]
		switch {
		case sim.Farmlike(d.Scenario) && a == nil:
			t.Errorf("farm device %s (%s) is in no farm alert", d.ID(), d.Scenario)
		case !sim.Farmlike(d.Scenario) && a != nil:
			t.Errorf("%s device %s is in farm alert %s: %s", d.Scenario, d.ID(), a.GetId(), a.GetSummary())
		case a != nil:
			if planted[d.Scenario] == nil {
				planted[d.Scenario] = map[string]bool{}
			}
			planted[d.Scenario][a.GetId()] = true
		}
	}
	for s, ids := range planted {
		if len(ids) != 1 {
			t.Errorf("scenario %s spread over farm alerts %v", s, ids)
		}
	}
	if farms != 5 {
		t.Errorf("%d open farm alerts, want 5 (farm, farm-10, farm-hotspot, farm-ip-only, farm-neighbours)", farms)
	}
	for _, d := range r.fleet.Devices {
		if d.Scenario != sim.FarmHotspot {
			continue
		}
		cl, err := r.c.Admin.GetCluster(ctx, &pb.GetClusterRequest{Id: farmOf[d.ID()].GetClusterId()})
		if err != nil || !strings.HasPrefix(cl.GetObservedPlace(), "Phoenix") {
			t.Errorf("farm-hotspot's farm is placed at %q (%v), want Phoenix", cl.GetObservedPlace(), err)
		}
		break
	}
}

// explain logs what the collector knows of a device whose verdict was wrong.
func explain(t *testing.T, c *testcollector.Collector, id string) {
	d, err := c.Admin.GetDevice(context.Background(), &pb.GetDeviceRequest{Id: id})
	if err != nil {
		t.Logf("  %s: %v", id, err)
		return
	}
	t.Logf("  %s hire %s claims %s (%s); score %.3f", id, d.GetHire().GetId(), d.GetHire().GetHome().GetPlace(),
		d.GetHire().GetHome().GetTimeZone(), d.GetDevice().GetScore())
	for _, e := range d.GetEvidence() {
		t.Logf("    %+.2f (peak %+.2f, %d reports) %s: %s", e.GetWeight(), e.GetPeakWeight(), e.GetReports(), e.GetRule(), e.GetExplanation())
	}
	c.Store().View(func(tx *store.Tx) error { return nil })
}
