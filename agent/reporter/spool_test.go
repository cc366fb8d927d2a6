package reporter

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/farmwatch/farmwatch/agent/collect"
	"github.com/farmwatch/farmwatch/agent/spool"
	"github.com/farmwatch/farmwatch/agent/uplink"
	"github.com/farmwatch/farmwatch/internal/agentlimits"
	"github.com/farmwatch/farmwatch/internal/testcollector"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// enrolledDevice starts a collector with one hire and enrolls a device.
func enrolledDevice(t *testing.T) (*testcollector.Collector, *uplink.Identity) {
	t.Helper()
	c := testcollector.Start(t, nil)
	ctx := context.Background()
	if _, err := c.Admin.AddHires(ctx, &pb.AddHiresRequest{Hires: []*pb.Hire{{Id: "h1", Name: "H", ClaimedHome: "Denver, CO, US"}}}); err != nil {
		t.Fatal(err)
	}
	tok, err := c.Admin.CreateToken(ctx, &pb.CreateTokenRequest{HireId: "h1"})
	if err != nil {
		t.Fatal(err)
	}
	id, _, err := uplink.Enroll(ctx, uplink.EnrollOptions{Collector: c.Addr(), Token: tok.GetToken(), Hostname: "h"})
	if err != nil {
		t.Fatal(err)
	}
	return c, id
}

// machine is one laptop's agent: a spool and a connection under an identity.
type machine struct {
	sp *spool.Spool
	r  *Reporter
}

func startMachine(t *testing.T, id *uplink.Identity, path string, identityExisted bool, log *slog.Logger) *machine {
	t.Helper()
	sp, err := OpenSpool(path, 100, id.DeviceID, identityExisted, log)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := uplink.Dial(id)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	r := &Reporter{Spool: sp, Conn: conn, Env: collect.HostEnv(), Interval: time.Minute, Log: log}
	if err := r.Start(); err != nil {
		t.Fatal(err)
	}
	return &machine{sp: sp, r: r}
}

func (m *machine) cycle(t *testing.T) {
	t.Helper()
	if err := m.r.Cycle(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st, _ := m.sp.Stats(); st.Pending != 0 {
		t.Fatalf("%d reports still spooled after a cycle", st.Pending)
	}
}

func storedReports(t *testing.T, c *testcollector.Collector, device string) []*pb.Report {
	t.Helper()
	rs, err := c.Admin.ListReports(context.Background(), &pb.ListReportsRequest{DeviceId: device, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var out []*pb.Report
	for _, sr := range rs.GetReports() {
		out = append(out, sr.GetReport())
	}
	return out
}

func getDevice(t *testing.T, c *testcollector.Collector, id string) *pb.Device {
	t.Helper()
	d, err := c.Admin.GetDevice(context.Background(), &pb.GetDeviceRequest{Id: id})
	if err != nil {
		t.Fatal(err)
	}
	return d.GetDevice()
}

// F1 by accident: spool.db is deleted and the identity kept. The agent says
// so in its log, and its new reports, numbered from 1 again, are stored as
// new rather than acknowledged as duplicates of the old spool's and lost.
func TestLostSpoolDeliversNewReports(t *testing.T) {
	c, id := enrolledDevice(t)
	path := filepath.Join(t.TempDir(), "spool.db")
	var firstLog bytes.Buffer
	m := startMachine(t, id, path, false, slog.New(slog.NewTextHandler(&firstLog, nil)))
	for range 3 {
		m.cycle(t)
	}
	if strings.Contains(firstLog.String(), "lost or reset") {
		t.Errorf("a first start after enrollment logged a lost spool:\n%s", firstLog.String())
	}
	oldEpoch := getDevice(t, c, id.DeviceID).GetSpoolEpoch()
	m.sp.Close()
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}

	var log bytes.Buffer
	m = startMachine(t, id, path, true, slog.New(slog.NewTextHandler(&log, nil)))
	defer m.sp.Close()
	if !strings.Contains(log.String(), "level=WARN") || !strings.Contains(log.String(), "the spool was lost or reset") {
		t.Errorf("the agent did not log the lost spool:\n%s", log.String())
	}
	for range 2 {
		m.cycle(t)
	}
	st, _ := m.sp.Stats()
	reports := storedReports(t, c, id.DeviceID)
	if len(reports) != 5 {
		t.Fatalf("collector stored %d reports, want 5 (3 of the lost spool, 2 of the new one)", len(reports))
	}
	for i, want := range []struct{ epoch, seq uint64 }{{st.Epoch, 2}, {st.Epoch, 1}, {oldEpoch, 3}, {oldEpoch, 2}, {oldEpoch, 1}} {
		if r := reports[i]; r.GetSpoolEpoch() != want.epoch || r.GetSeq() != want.seq {
			t.Errorf("report %d: epoch %x seq %d, want %x %d", i, r.GetSpoolEpoch(), r.GetSeq(), want.epoch, want.seq)
		}
	}
	if d := getDevice(t, c, id.DeviceID); d.GetSpoolEpoch() != st.Epoch || d.GetLastSeq() != 2 || d.GetSpoolGenerations() != 2 {
		t.Errorf("device: epoch %x, last seq %d, %d spools; want %x, 2, 2", d.GetSpoolEpoch(), d.GetLastSeq(), d.GetSpoolGenerations(), st.Epoch)
	}
	if oldEpoch == 0 || oldEpoch == st.Epoch {
		t.Errorf("spool epochs %x then %x", oldEpoch, st.Epoch)
	}
}

// A cloned identity: two machines, each with its own spool, report with
// one device identity. Both machines' reports are stored, none taken as a
// duplicate of the other's.
func TestClonedIdentityBothMachinesStored(t *testing.T) {
	c, id := enrolledDevice(t)
	a := startMachine(t, id, filepath.Join(t.TempDir(), "spool.db"), true, nil)
	defer a.sp.Close()
	b := startMachine(t, id, filepath.Join(t.TempDir(), "spool.db"), true, nil)
	defer b.sp.Close()
	for range 2 {
		a.cycle(t)
		b.cycle(t)
	}
	reports := storedReports(t, c, id.DeviceID)
	if len(reports) != 4 {
		t.Fatalf("collector stored %d reports of two machines' 4", len(reports))
	}
	sa, _ := a.sp.Stats()
	sb, _ := b.sp.Stats()
	for i, want := range []struct{ epoch, seq uint64 }{{sb.Epoch, 2}, {sa.Epoch, 2}, {sb.Epoch, 1}, {sa.Epoch, 1}} {
		if r := reports[i]; r.GetSpoolEpoch() != want.epoch || r.GetSeq() != want.seq {
			t.Errorf("report %d: epoch %x seq %d, want %x %d", i, r.GetSpoolEpoch(), r.GetSeq(), want.epoch, want.seq)
		}
	}
	if d := getDevice(t, c, id.DeviceID); d.GetSpoolGenerations() != 2 || d.GetSpoolEpoch() != sb.Epoch {
		t.Errorf("device: %d spools, newest epoch %x; want 2, %x", d.GetSpoolGenerations(), d.GetSpoolEpoch(), sb.Epoch)
	}
}

// The collector may suggest an interval, but never one shorter than an agent
// may report at: its sequence bound counts on that.
func TestSuggestedIntervalNeverBelowLimit(t *testing.T) {
	for _, tt := range []struct {
		suggested uint32
		want      time.Duration
	}{{1, agentlimits.MinReportInterval}, {10, 10 * time.Second}, {120, 2 * time.Minute}} {
		r := &Reporter{Interval: time.Minute}
		r.observeClock(time.Now(), &pb.ReportResponse{ServerTimeUnixMs: time.Now().UnixMilli(), ReportIntervalSeconds: tt.suggested})
		if r.Interval != tt.want {
			t.Errorf("suggested %ds: interval %s, want %s", tt.suggested, r.Interval, tt.want)
		}
	}
}

// An install config's report_interval that the collector's interval
// replaces is logged as overridden, once, and IntervalFrom names the
// collector; one that agrees is not.
func TestOverriddenIntervalLogged(t *testing.T) {
	for _, tt := range []struct {
		configured time.Duration
		want       bool
	}{{10 * time.Minute, true}, {time.Hour, false}, {0, false}} {
		var logs bytes.Buffer
		r := &Reporter{Interval: max(tt.configured, 5*time.Minute), ConfiguredInterval: tt.configured, IntervalFrom: "install config",
			Log: slog.New(slog.NewTextHandler(&logs, nil))}
		for range 3 {
			r.observeClock(time.Now(), &pb.ReportResponse{ServerTimeUnixMs: time.Now().UnixMilli(), ReportIntervalSeconds: 3600})
		}
		if n := strings.Count(logs.String(), "report_interval is overridden"); n != map[bool]int{true: 1}[tt.want] {
			t.Errorf("configured %s: %d override lines, want %v:\n%s", tt.configured, n, tt.want, logs.String())
		}
		if r.Interval != time.Hour || r.IntervalFrom != "collector" {
			t.Errorf("configured %s: interval %s from %q, want 1h from the collector", tt.configured, r.Interval, r.IntervalFrom)
		}
	}
}
