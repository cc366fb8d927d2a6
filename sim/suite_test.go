package sim_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/farmwatch/farmwatch/collector/server"
	"github.com/farmwatch/farmwatch/collector/store"
	"github.com/farmwatch/farmwatch/internal/testcollector"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
	"github.com/farmwatch/farmwatch/sim"
)

// clock is the collector's clock in the suite: five simulated days pass in seconds.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

const reviewThreshold = 0.5

// TestScenarioSuite drives every scenario type through the real gRPC path
// (enrollment, mutual TLS, trusted-proxy public IPs) for five days of hourly
// reports and checks what a reviewer would see: every planted case at or
// above the review threshold, no honest one.
func TestScenarioSuite(t *testing.T) {
	start := time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)
	clk := &clock{t: start}
	cfgPath := filepath.Join(t.TempDir(), "analysis.yaml")
	os.WriteFile(cfgPath, []byte("allow:\n  egress_cidrs: ["+sim.CompanyEgress+"]\n  vpn_interface_prefixes: [gpd]\n"), 0o644)
	c := testcollector.Start(t, func(cfg *server.Config) {
		cfg.Now = clk.Now
		cfg.AnalysisConfig = cfgPath
		cfg.SweepInterval = time.Hour
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	fp, _ := c.Options().CAFingerprint()
	fleet := sim.Suite(42)
	defer fleet.Close()
	if err := fleet.Register(ctx, c.Admin); err != nil {
		t.Fatal(err)
	}
	if err := fleet.Enroll(ctx, c.Addr(), fp, 8); err != nil {
		t.Fatal(err)
	}
	for day := range 5 {
		if err := fleet.Moves(ctx, c.Admin, day); err != nil {
			t.Fatal(err)
		}
		clk.Set(start.Add(time.Duration(day+1) * 24 * time.Hour))
		st, err := fleet.SendDay(ctx, day, start.Add(time.Duration(day)*24*time.Hour), 8)
		if err != nil {
			t.Fatalf("day %d: %v", day, err)
		}
		if st.Acked != st.Reports {
			t.Fatalf("day %d: %d of %d acknowledged", day, st.Acked, st.Reports)
		}
	}

	alerts, err := c.Admin.ListAlerts(ctx, &pb.ListAlertsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	score := map[string]float64{} // device -> highest score of an alert naming it
	why := map[string]string{}
	inFarm := map[string]string{}
	for _, a := range alerts.GetAlerts() {
		devs := a.GetMemberDevices()
		if a.GetKind() == "device" {
			devs = []string{a.GetDeviceId()}
		}
		for _, d := range devs {
			if a.GetScore() > score[d] {
				score[d], why[d] = a.GetScore(), a.GetSummary()
			}
			if a.GetKind() == "farm" && a.GetScore() >= reviewThreshold {
				inFarm[d] = a.GetId()
			}
		}
	}

	type tally struct{ devices, flagged int }
	by := map[string]*tally{}
	var tp, fp2, fn int
	for _, d := range fleet.Devices {
		tl := by[d.Scenario]
		if tl == nil {
			tl = &tally{}
			by[d.Scenario] = tl
		}
		tl.devices++
		flagged := score[d.ID()] >= reviewThreshold
		if flagged {
			tl.flagged++
		}
		switch {
		case d.Expected && flagged:
			tp++
		case d.Expected:
			fn++
			t.Errorf("missed %s device %s (%s): best alert score %.2f %s", d.Scenario, d.ID(), d.Hire.GetId(), score[d.ID()], why[d.ID()])
			explain(t, c, d.ID())
		case flagged:
			fp2++
			t.Errorf("honest %s device %s (%s) reached review: %.2f %s", d.Scenario, d.ID(), d.Hire.GetId(), score[d.ID()], why[d.ID()])
			explain(t, c, d.ID())
		}
		if (d.Scenario == sim.Farm || d.Scenario == sim.BigFarm) && inFarm[d.ID()] == "" {
			t.Errorf("farm device %s (%s) is in no farm alert", d.ID(), d.Scenario)
		}
	}
	// Two farms, two farm alerts; the big one names all ten.
	farmAlerts := 0
	for _, a := range alerts.GetAlerts() {
		if a.GetKind() == "farm" && a.GetStatus() == "open" {
			farmAlerts++
			if n := len(a.GetMemberDevices()); n != 3 && n != 10 {
				t.Errorf("farm alert %s has %d members, want 3 or 10: %s", a.GetId(), n, a.GetSummary())
			}
		}
	}
	if farmAlerts != 2 {
		t.Errorf("%d open farm alerts, want 2", farmAlerts)
	}

	names := make([]string, 0, len(by))
	for n := range by {
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
	fmt.Fprintln(tw, "SCENARIO\tPLANTED\tDEVICES\tAT REVIEW\tRECALL\tFALSE POSITIVES")
	for _, n := range names {
		tl := by[n]
		if sim.Bad(n) {
			fmt.Fprintf(tw, "%s\tyes\t%d\t%d\t%.2f\t-\n", n, tl.devices, tl.flagged, float64(tl.flagged)/float64(tl.devices))
		} else {
			fmt.Fprintf(tw, "%s\tno\t%d\t%d\t-\t%d\n", n, tl.devices, tl.flagged, tl.flagged)
		}
	}
	tw.Flush()
	precision := 1.0
	if tp+fp2 > 0 {
		precision = float64(tp) / float64(tp+fp2)
	}
	recall := float64(tp) / float64(max(tp+fn, 1))
	t.Logf("scenario suite: %d devices, %d scenario types, review threshold %.2f\n%sprecision %.2f, recall %.2f",
		len(fleet.Devices), len(by), reviewThreshold, b.String(), precision, recall)
	if len(by) < 10 {
		t.Errorf("only %d scenario types", len(by))
	}
}

// explain logs what the collector knows of a device whose verdict was wrong.
func explain(t *testing.T, c *testcollector.Collector, id string) {
	d, err := c.Admin.GetDevice(context.Background(), &pb.GetDeviceRequest{Id: id})
	if err != nil {
		t.Logf("  %s: %v", id, err)
		return
	}
	t.Logf("  %s hire %s claims %s (%s); score %.2f", id, d.GetHire().GetId(), d.GetHire().GetHome().GetPlace(),
		d.GetHire().GetHome().GetTimeZone(), d.GetDevice().GetScore())
	for _, e := range d.GetEvidence() {
		t.Logf("    %+.2f %s: %s", e.GetWeight(), e.GetRule(), e.GetExplanation())
	}
	c.Store().View(func(tx *store.Tx) error { t.Logf("    state %s", tx.DeviceState(id)); return nil })
	rs, _ := c.Admin.ListReports(context.Background(), &pb.ListReportsRequest{DeviceId: id, Limit: 12})
	for _, r := range rs.GetReports() {
		t.Logf("    seq %d at %s idle %d zone %s", r.GetReport().GetSeq(), r.GetReport().GetCollectedAt().AsTime(), r.GetReport().GetActivity().GetIdleSeconds(), r.GetReport().GetLocale().GetTimeZone())
	}
}
