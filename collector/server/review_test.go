package server_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"

	"github.com/farmwatch/farmwatch/agent/uplink"
	"github.com/farmwatch/farmwatch/collector/pki"
	"github.com/farmwatch/farmwatch/collector/server"
	"github.com/farmwatch/farmwatch/collector/store"
	"github.com/farmwatch/farmwatch/internal/testcollector"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
	"github.com/farmwatch/farmwatch/sim"
)

func viewer(t *testing.T, c *testcollector.Collector) pb.AdminServiceClient {
	t.Helper()
	certPEM, keyPEM, err := c.CA().IssueAdmin("auditor", pki.RoleViewer, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := tls.X509KeyPair(certPEM, keyPEM)
	pool := x509.NewCertPool()
	pool.AddCert(c.CA().Cert)
	cc, err := grpc.NewClient(c.Addr(), grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{
		Certificates: []tls.Certificate{cert}, RootCAs: pool, ServerName: "127.0.0.1"})))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return pb.NewAdminServiceClient(cc)
}

func farmAlerts(t *testing.T, c *testcollector.Collector) []*pb.Alert {
	t.Helper()
	resp, err := c.Admin.ListAlerts(context.Background(), &pb.ListAlertsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var out []*pb.Alert
	for _, a := range resp.GetAlerts() {
		if a.GetKind() == "farm" {
			out = append(out, a)
		}
	}
	return out
}

// The farm alert grows as members join, keeps its id, and the reviewer's
// workflow (ack, resolve with a verdict) lands in the audit trail.
func TestFarmGrowsAndReviewWorkflow(t *testing.T) {
	c := testcollector.Start(t, nil)
	ctx := context.Background()
	fp, _ := c.Options().CAFingerprint()
	fleet := sim.Plan(8, 3) // a farm of 3 and honest hires
	defer fleet.Close()
	var farm []*sim.Device
	for _, d := range fleet.Devices {
		if d.Scenario == sim.Farm {
			farm = append(farm, d)
		}
	}
	if err := fleet.Register(ctx, c.Admin); err != nil {
		t.Fatal(err)
	}
	if err := fleet.Enroll(ctx, c.Addr(), fp, 4); err != nil {
		t.Fatal(err)
	}
	send := func(d *sim.Device, seq uint64) {
		t.Helper()
		if _, err := d.Send(ctx, []*pb.Report{d.Report(seq, time.Now(), 0)}); err != nil {
			t.Fatal(err)
		}
	}
	// Two members, two reports each: a farm of two hires.
	for seq := uint64(1); seq <= 2; seq++ {
		send(farm[0], seq)
		send(farm[1], seq)
	}
	fa := farmAlerts(t, c)
	if len(fa) != 1 || len(fa[0].GetMemberDevices()) != 2 {
		t.Fatalf("after two members: %v", fa)
	}
	id := fa[0].GetId()
	// The third joins: same alert, now naming all three.
	send(farm[2], 1)
	send(farm[2], 2)
	fa = farmAlerts(t, c)
	if len(fa) != 1 || fa[0].GetId() != id || len(fa[0].GetMemberDevices()) != 3 {
		t.Fatalf("after the third member: %v", fa)
	}
	named := false
	for _, e := range fa[0].GetEvidence() {
		named = named || strings.Contains(e.GetExplanation(), farm[2].Hire.GetName())
	}
	if !named {
		t.Errorf("farm alert does not name the new member: %v", fa[0].GetEvidence())
	}
	cl, err := c.Admin.GetCluster(ctx, &pb.GetClusterRequest{Id: fa[0].GetClusterId()})
	if err != nil || !cl.GetFarm() || len(cl.GetMembers()) != 3 || len(cl.GetFingerprints()) != 5 { // router, Wi-Fi, two neighbouring networks, public IP
		t.Fatalf("cluster %v %v", cl, err)
	}
	for _, m := range cl.GetMembers() {
		if m.GetDistanceKm() < 500 {
			t.Errorf("member %s claims %s, %0.f km from Phoenix: want the distance to the observed place", m.GetDeviceId(), m.GetClaimedHome(), m.GetDistanceKm())
		}
	}

	// A viewer reads but may not change alerts.
	v := viewer(t, c)
	if _, err := v.GetAlert(ctx, &pb.GetAlertRequest{Id: id}); err != nil {
		t.Fatal(err)
	}
	_, err = v.ResolveAlert(ctx, &pb.ResolveAlertRequest{Id: id, Verdict: "confirmed", Note: "x"})
	wantStatus(t, err, codes.PermissionDenied, "needs the reviewer role")

	if _, err := c.Admin.AckAlert(ctx, &pb.AckAlertRequest{Id: id, Note: "calling the hiring manager"}); err != nil {
		t.Fatal(err)
	}
	_, err = c.Admin.ResolveAlert(ctx, &pb.ResolveAlertRequest{Id: id, Verdict: "maybe", Note: "x"})
	wantStatus(t, err, codes.InvalidArgument, "want confirmed or false-positive")
	_, err = c.Admin.ResolveAlert(ctx, &pb.ResolveAlertRequest{Id: id, Verdict: "confirmed"})
	wantStatus(t, err, codes.InvalidArgument, "note")
	res, err := c.Admin.ResolveAlert(ctx, &pb.ResolveAlertRequest{Id: id, Verdict: "confirmed", Note: "three hires, one house in Phoenix"})
	if err != nil || res.GetStatus() != "resolved" || res.GetResolvedBy() != "local-operator" {
		t.Fatalf("resolve: %v %v", res, err)
	}
	_, err = c.Admin.ResolveAlert(ctx, &pb.ResolveAlertRequest{Id: id, Verdict: "confirmed", Note: "again"})
	wantStatus(t, err, codes.FailedPrecondition, "already resolved")

	audit, err := c.Admin.ListAudit(ctx, &pb.ListAuditRequest{Subject: id})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range audit.GetEntries() {
		actions = append(actions, e.GetAction()+" by "+e.GetActor())
	}
	if len(actions) != 2 || actions[0] != "alert.resolve by local-operator" || actions[1] != "alert.ack by local-operator" {
		t.Fatalf("audit trail %v", actions)
	}
}

// A false positive stays resolved while the same evidence repeats, and a
// new kind of evidence opens a new alert.
func TestResolvedAlertReopensOnlyOnNewEvidence(t *testing.T) {
	c, conn, id := enrolled(t, nil)
	ctx := context.Background()
	withTool := func(seq uint64, peerCountry bool) *pb.Report {
		r := report(seq)
		r.Locale = &pb.Locale{TimeZone: "Asia/Seoul"}
		r.RemoteAccess = &pb.RemoteAccess{Tools: []*pb.ToolMatch{{ToolId: "anydesk", Name: "AnyDesk", Process: "AnyDesk"}}}
		if peerCountry {
			r.RemoteAccess.Tools[0].Connections = []*pb.Connection{{RemoteAddress: "113.224.1.9", RemotePort: 443}}
		}
		return r
	}
	if _, err := conn.Send(ctx, []*pb.Report{withTool(1, false)}); err != nil {
		t.Fatal(err)
	}
	al, err := c.Admin.ListAlerts(ctx, &pb.ListAlertsRequest{DeviceId: id.DeviceID})
	if err != nil || len(al.GetAlerts()) != 1 {
		t.Fatalf("alerts %v %v", al, err)
	}
	first := al.GetAlerts()[0]
	if _, err := c.Admin.ResolveAlert(ctx, &pb.ResolveAlertRequest{Id: first.GetId(), Verdict: "false-positive", Note: "IT support session"}); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Send(ctx, []*pb.Report{withTool(2, false)}); err != nil {
		t.Fatal(err)
	}
	al, _ = c.Admin.ListAlerts(ctx, &pb.ListAlertsRequest{DeviceId: id.DeviceID, Status: "open"})
	if len(al.GetAlerts()) != 0 {
		t.Fatalf("the same evidence reopened an alert: %v", al.GetAlerts())
	}
	if _, err := conn.Send(ctx, []*pb.Report{withTool(3, true)}); err != nil {
		t.Fatal(err)
	}
	al, _ = c.Admin.ListAlerts(ctx, &pb.ListAlertsRequest{DeviceId: id.DeviceID, Status: "open"})
	if len(al.GetAlerts()) != 1 || al.GetAlerts()[0].GetId() == first.GetId() {
		t.Fatalf("a peer in China should open a new alert: %v", al.GetAlerts())
	}
}

func TestModelFitDryRunAndApply(t *testing.T) {
	cfgPath := filepath.Join(t.TempDir(), "analysis.yaml")
	os.WriteFile(cfgPath, []byte("# operator's config\nreview_threshold: 0.5\n"), 0o644)
	c, conn, id := enrolled(t, func(cfg *server.Config) { cfg.AnalysisConfig = cfgPath })
	ctx := context.Background()
	r := report(1)
	r.RemoteAccess = &pb.RemoteAccess{Tools: []*pb.ToolMatch{{ToolId: "anydesk", Name: "AnyDesk", Process: "AnyDesk",
		Connections: []*pb.Connection{{RemoteAddress: "113.224.1.9", RemotePort: 443}}}}}
	if _, err := conn.Send(ctx, []*pb.Report{r}); err != nil {
		t.Fatal(err)
	}
	al, _ := c.Admin.ListAlerts(ctx, &pb.ListAlertsRequest{DeviceId: id.DeviceID})
	if len(al.GetAlerts()) != 1 {
		t.Fatalf("alerts: %v", al)
	}
	if _, err := c.Admin.ResolveAlert(ctx, &pb.ResolveAlertRequest{Id: al.GetAlerts()[0].GetId(), Verdict: "false-positive", Note: "vendor support in Shenyang"}); err != nil {
		t.Fatal(err)
	}
	dry, err := c.Admin.FitModel(ctx, &pb.FitModelRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var peer *pb.RuleWeight
	for _, w := range dry.GetWeights() {
		if w.GetRule() == "geo.high_risk_peer" {
			peer = w
		}
	}
	if peer == nil || !(peer.GetNewWeight() < peer.GetOldWeight()) || peer.GetFiredFalsePositive() != 1 {
		t.Fatalf("a false positive should lower the weight of the rule that fired: %v", peer)
	}
	before, _ := os.ReadFile(cfgPath)
	if !strings.Contains(string(before), "operator's config") || strings.Contains(string(before), "weights") {
		t.Fatalf("dry run changed the config:\n%s", before)
	}
	_, err = viewer(t, c).FitModel(ctx, &pb.FitModelRequest{Apply: true})
	wantStatus(t, err, codes.PermissionDenied, "reviewer")
	// One verdict is far below the minimum: refused, nothing written.
	_, err = c.Admin.FitModel(ctx, &pb.FitModelRequest{Apply: true})
	wantStatus(t, err, codes.FailedPrecondition, fmt.Sprintf("at least %d verdicts of each kind", server.MinVerdictsToApply))
	if b, _ := os.ReadFile(cfgPath); !bytes.Equal(b, before) {
		t.Fatalf("a refused apply changed the config:\n%s", b)
	}
	// Reviewers resolve more alerts, reaching the minimum of each kind.
	err = c.Server.Store().Update(func(tx *store.Tx) error {
		for i := 0; i < 2*server.MinVerdictsToApply-1; i++ {
			id, err := tx.NextAlertID()
			if err != nil {
				return err
			}
			a := &pb.Alert{Id: id, Kind: "device", Status: "resolved", Verdict: "confirmed", Note: "farm",
				Evidence: []*pb.Evidence{{Rule: "net.colocated", Weight: 3.6}}}
			if i >= server.MinVerdictsToApply {
				a.Verdict = "false-positive"
				a.Evidence = []*pb.Evidence{{Rule: "geo.high_risk_peer", Weight: 3.6}}
			}
			if err := tx.PutAlert(fmt.Sprintf("seeded-%d", i), a); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	applied, err := c.Admin.FitModel(ctx, &pb.FitModelRequest{Apply: true})
	if err != nil || !applied.GetApplied() {
		t.Fatalf("apply: %v %v", applied, err)
	}
	after, _ := os.ReadFile(cfgPath)
	if !strings.Contains(string(after), "operator's config") || !strings.Contains(string(after), "geo.high_risk_peer:") ||
		!strings.Contains(string(after), "review_threshold: 0.5") {
		t.Fatalf("applied config lost the operator's keys or lacks weights:\n%s", after)
	}
	audit, _ := c.Admin.ListAudit(ctx, &pb.ListAuditRequest{})
	if audit.GetEntries()[0].GetAction() != "config.apply" {
		t.Errorf("newest audit entry %v", audit.GetEntries()[0])
	}
	_ = uplink.Identity{}
}

// An agent is silent after six report intervals, never before a day (a
// laptop asleep overnight is not silent); the silence joins its remembered
// evidence, and once the agent is back the line says for how long it was
// away and fades.
func TestSilentAgent(t *testing.T) {
	now := time.Now()
	clock := func() time.Time { return now }
	c, conn, id := enrolled(t, func(cfg *server.Config) {
		cfg.Now = func() time.Time { return clock() }
		cfg.ReportInterval = time.Hour
	})
	ctx := context.Background()
	r := report(1)
	r.Locale = &pb.Locale{TimeZone: "Asia/Seoul"}
	r.RemoteAccess = &pb.RemoteAccess{Tools: []*pb.ToolMatch{{ToolId: "anydesk", Name: "AnyDesk", Process: "AnyDesk"}}}
	if _, err := conn.Send(ctx, []*pb.Report{r}); err != nil {
		t.Fatal(err)
	}
	if n, err := c.Sweep(); err != nil || n != 0 {
		t.Fatalf("sweep right after a report marked %d (%v)", n, err)
	}
	clock = func() time.Time { return now.Add(12 * time.Hour) }
	if n, err := c.Sweep(); err != nil || n != 0 {
		t.Fatalf("sweep after a night without reports marked %d (%v), want 0", n, err)
	}
	clock = func() time.Time { return now.Add(25 * time.Hour) }
	if n, err := c.Sweep(); err != nil || n != 1 {
		t.Fatalf("sweep after 25 h of silence marked %d (%v), want 1", n, err)
	}
	if n, _ := c.Sweep(); n != 0 {
		t.Fatalf("a second sweep marked the device again")
	}
	al, _ := c.Admin.ListAlerts(ctx, &pb.ListAlertsRequest{DeviceId: id.DeviceID})
	if len(al.GetAlerts()) != 1 || !strings.Contains(al.GetAlerts()[0].GetSummary(), "agent.silent") {
		t.Fatalf("alert after silence: %v", al.GetAlerts())
	}
	// Back: the line says how long the agent was away, and still counts.
	clock = func() time.Time { return now.Add(30 * time.Hour) }
	r2 := report(2)
	r2.Locale = &pb.Locale{TimeZone: "Asia/Seoul"}
	if _, err := conn.Send(ctx, []*pb.Report{r2}); err != nil {
		t.Fatal(err)
	}
	line := func() *pb.Evidence {
		a, err := c.Admin.GetAlert(ctx, &pb.GetAlertRequest{Id: al.GetAlerts()[0].GetId()})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range a.GetEvidence() {
			if e.GetRule() == "agent.silent" {
				return e
			}
		}
		t.Fatalf("no agent.silent line: %v", a.GetEvidence())
		return nil
	}
	if l := line(); l.GetWeight() <= 0 || !strings.Contains(l.GetExplanation(), "did not report from") {
		t.Fatalf("after the agent is back: %+.2f %s", l.GetWeight(), l.GetExplanation())
	}
	// It fades within a day of reports.
	for h := 1; h <= 25; h++ {
		clock = func() time.Time { return now.Add(time.Duration(30+h) * time.Hour) }
		if _, err := conn.Send(ctx, []*pb.Report{report(uint64(2 + h))}); err != nil {
			t.Fatal(err)
		}
	}
	if l := line(); l.GetWeight() != 0 || l.GetPeakWeight() != 0.5 {
		t.Fatalf("a day after the agent came back the silence still adds %+.2f (peak %.2f)", l.GetWeight(), l.GetPeakWeight())
	}
}

// A config in which a weak sign reaches review alone starts, with a warning
// naming the rule and what would keep the margin.
func TestWeakSignConfigWarnsAtStart(t *testing.T) {
	var logs lockedBuffer // the collector logs from its own goroutines too
	saved := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&logs, nil)))
	t.Cleanup(func() { slog.SetDefault(saved) })
	cfg := filepath.Join(t.TempDir(), "analysis.yaml")
	if err := os.WriteFile(cfg, []byte("weights:\n  activity.off_hours: 3.0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	testcollector.Start(t, func(c *server.Config) { c.AnalysisConfig = cfg })
	out := logs.String()
	if !strings.Contains(out, "level=WARN") || !strings.Contains(out, "weak sign activity.off_hours alone scores 0.51 (weight 3.00)") ||
		!strings.Contains(out, "give it 2.54 or less") {
		t.Fatalf("start-up log: %s", out)
	}
}

// lockedBuffer is a bytes.Buffer that goroutines may write while a test
// reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
