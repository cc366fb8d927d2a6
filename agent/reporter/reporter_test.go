package reporter

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/farmwatch/farmwatch/agent/collect"
	"github.com/farmwatch/farmwatch/agent/spool"
	"github.com/farmwatch/farmwatch/agent/uplink"
	"github.com/farmwatch/farmwatch/collector/server"
	"github.com/farmwatch/farmwatch/internal/testcollector"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// An agent whose collector is down keeps its reports and delivers each
// exactly once when the collector returns.
func TestOutageSpoolsThenDeliversOnce(t *testing.T) {
	c := testcollector.Start(t, nil)
	ctx := context.Background()
	id := enrollHire(t, c, &pb.Hire{Id: "h1", Name: "H", ClaimedHome: "Denver, CO, US"})
	sp, err := spool.Open(filepath.Join(t.TempDir(), "spool.db"), 100)
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	conn, err := uplink.Dial(id)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	env := collect.HostEnv()
	r := &Reporter{Spool: sp, Conn: conn, Env: env, Interval: time.Minute}
	if err := r.Start(); err != nil {
		t.Fatal(err)
	}
	if err := r.Cycle(ctx); err != nil {
		t.Fatal(err)
	}

	c.Stop()
	for i := range 3 {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := r.Cycle(cctx)
		cancel()
		if err == nil {
			t.Fatalf("cycle %d succeeded with the collector down", i)
		}
	}
	if st, _ := sp.Stats(); st.Pending != 3 {
		t.Fatalf("%d reports spooled during the outage, want 3", st.Pending)
	}

	c.Restart(t)
	fctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		if err := r.Flush(fctx); err == nil {
			break
		} else if fctx.Err() != nil {
			t.Fatalf("flush after restart: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if st, _ := sp.Stats(); st.Pending != 0 {
		t.Fatalf("%d reports still spooled after delivery", st.Pending)
	}
	// Delivering the same spool again must not store anything twice.
	rs, err := c.Admin.ListReports(ctx, &pb.ListReportsRequest{DeviceId: id.DeviceID, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(rs.GetReports()) != 4 {
		t.Fatalf("collector stored %d reports, want 4 (1 before, 3 during the outage)", len(rs.GetReports()))
	}
	for i, sr := range rs.GetReports() {
		if want := uint64(4 - i); sr.GetReport().GetSeq() != want {
			t.Errorf("report %d has seq %d, want %d", i, sr.GetReport().GetSeq(), want)
		}
	}
	if !rs.GetReports()[0].GetReport().GetLocale().GetClockSkewKnown() {
		t.Error("reports after a delivery should carry the measured clock skew")
	}
}

// After the hire's end date the collector refuses reports and the agent
// stops for good.
func TestMonitoringEndStopsTheAgent(t *testing.T) {
	c := testcollector.Start(t, nil)
	ctx := context.Background()
	if _, err := c.Admin.AddHires(ctx, &pb.AddHiresRequest{Hires: []*pb.Hire{{Id: "h1", Name: "H", ClaimedHome: "Denver, CO, US",
		StartDate: "2026-01-01", EndDate: time.Now().AddDate(0, 0, 1).Format("2006-01-02")}}}); err != nil {
		t.Fatal(err)
	}
	tok, _ := c.Admin.CreateToken(ctx, &pb.CreateTokenRequest{HireId: "h1"})
	id, _, err := uplink.Enroll(ctx, uplink.EnrollOptions{Collector: c.Addr(), Token: tok.GetToken(), Hostname: "h"})
	if err != nil {
		t.Fatal(err)
	}
	sp, _ := spool.Open(filepath.Join(t.TempDir(), "spool.db"), 100)
	defer sp.Close()
	conn, _ := uplink.Dial(id)
	defer conn.Close()
	r := &Reporter{Spool: sp, Conn: conn, Env: collect.HostEnv(), Interval: time.Minute}
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	sp.Add(&pb.Report{CollectedAt: timestamppb.Now()})
	if err := r.Flush(ctx); err != nil {
		t.Fatalf("before the end date: %v", err)
	}
	h, _ := c.Admin.GetHire(ctx, &pb.GetHireRequest{Id: "h1"})
	h.EndDate = "2026-01-31"
	if _, err := c.Admin.UpdateHire(ctx, &pb.UpdateHireRequest{Hire: h, Note: "onboarding over"}); err != nil {
		t.Fatal(err)
	}
	sp.Add(&pb.Report{CollectedAt: timestamppb.Now()})
	runCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := r.Run(runCtx); !errors.Is(err, ErrMonitoringEnded) {
		t.Fatalf("Run after the end date returned %v, want ErrMonitoringEnded", err)
	}
}

// The collector's report interval is the one the agent keeps, and the agent
// says so when it differs from its own.
func TestAgentAdoptsTheCollectorsInterval(t *testing.T) {
	c := testcollector.Start(t, func(cfg *server.Config) { cfg.ReportInterval = time.Hour })
	ctx := context.Background()
	id := enrollHire(t, c, &pb.Hire{Id: "h1", Name: "H", ClaimedHome: "Denver, CO, US"})
	sp, _ := spool.Open(filepath.Join(t.TempDir(), "spool.db"), 100)
	defer sp.Close()
	conn, _ := uplink.Dial(id)
	defer conn.Close()
	var logs bytes.Buffer
	r := &Reporter{Spool: sp, Conn: conn, Env: collect.HostEnv(), Interval: 5 * time.Minute,
		Log: slog.New(slog.NewTextHandler(&logs, nil))}
	sp.Add(&pb.Report{CollectedAt: timestamppb.Now()})
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if r.Interval != time.Hour || !strings.Contains(logs.String(), "report interval set by the collector") ||
		!strings.Contains(logs.String(), "interval=1h0m0s configured=5m0s") {
		t.Fatalf("interval %s, log %q", r.Interval, logs.String())
	}
}
