package server_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	reflectionv1 "google.golang.org/grpc/reflection/grpc_reflection_v1"
	reflectionv1alpha "google.golang.org/grpc/reflection/grpc_reflection_v1alpha"

	"github.com/farmwatch/farmwatch/collector/pki"
	"github.com/farmwatch/farmwatch/collector/server"
	"github.com/farmwatch/farmwatch/internal/testcollector"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// promtool finds Prometheus' promtool (Debian package prometheus, which
// scripts/ci-packages.sh installs). Without it the test skips, except on CI
// (FARMWATCH_CI set, as .ci/run does), where it fails: CI must not skip the
// check silently.
func promtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("FARMWATCH_CI") != "" {
			t.Fatalf("promtool is not installed and FARMWATCH_CI is set: run scripts/ci-packages.sh (Debian package prometheus)")
		}
		t.Skip("promtool is not installed (scripts/ci-packages.sh installs the Debian package prometheus): skipping the promtool check")
	}
	return p
}

// scrape fetches /metrics as text and parses it.
func scrape(t *testing.T, addr string) (string, map[string]*dto.MetricFamily) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/metrics", nil)
	req.Header.Set("Accept", "text/plain; version=0.0.4")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s\n%s", resp.Status, body)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("parse /metrics: %v\n%s", err, body)
	}
	return string(body), fams
}

// value is the sum of the samples of a family whose labels include want (a
// counter's or gauge's value, a histogram's count); ok is false when no
// sample matches.
func value(fams map[string]*dto.MetricFamily, name string, want map[string]string) (v float64, ok bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
metrics:
	for _, m := range f.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		for k, w := range want {
			if labels[k] != w {
				continue metrics
			}
		}
		ok = true
		switch {
		case m.Counter != nil:
			v += m.GetCounter().GetValue()
		case m.Gauge != nil:
			v += m.GetGauge().GetValue()
		case m.Histogram != nil:
			v += float64(m.GetHistogram().GetSampleCount())
		case m.Untyped != nil:
			v += m.GetUntyped().GetValue()
		}
	}
	return v, ok
}

func mustValue(t *testing.T, fams map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	t.Helper()
	v, ok := value(fams, name, want)
	if !ok {
		t.Fatalf("/metrics has no %s%v", name, want)
	}
	return v
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// suspicious is a report with a remote-access tool and a far time zone:
// with a day of silence after it, the device's alert opens.
func suspicious(seq uint64) *pb.Report {
	r := report(seq)
	r.Locale = &pb.Locale{TimeZone: "Asia/Seoul"}
	r.RemoteAccess = &pb.RemoteAccess{Tools: []*pb.ToolMatch{{ToolId: "anydesk", Name: "AnyDesk", Process: "AnyDesk"}}}
	return r
}

func withMetrics(cfg *server.Config) { cfg.MetricsListen = "127.0.0.1:0" }

// TestMetricsAfterIngest ingests reports through real gRPC over TLS, then
// scrapes /metrics and checks that the named metrics moved, and that
// promtool accepts the exposition.
func TestMetricsAfterIngest(t *testing.T) {
	now := time.Now()
	clock := func() time.Time { return now }
	c, conn, _ := enrolled(t, func(cfg *server.Config) {
		withMetrics(cfg)
		cfg.Now = func() time.Time { return clock() }
		cfg.ReportInterval = time.Hour
		cfg.Version = "1.2.3-test"
	})
	addr := c.MetricsAddr()
	if addr == "" {
		t.Fatal("MetricsAddr is empty with MetricsListen set")
	}
	_, before := scrape(t, addr)
	if v := mustValue(t, before, "farmwatch_reports_ingested_total", nil); v != 0 {
		t.Fatalf("reports ingested before any report: %v", v)
	}
	if v := mustValue(t, before, "farmwatch_alerts_open", nil); v != 0 {
		t.Fatalf("open alerts before any report: %v", v)
	}

	ctx := context.Background()
	sent := 0
	for _, batch := range [][]*pb.Report{{suspicious(1), report(2), report(3)}, {report(4), report(5)}} {
		resp, err := conn.Send(ctx, batch)
		if err != nil || len(resp.GetAcknowledged()) != len(batch) {
			t.Fatalf("send: %v %v", resp, err)
		}
		sent += len(batch)
	}
	if _, err := conn.Send(ctx, []*pb.Report{report(2)}); err != nil { // an agent's retry
		t.Fatal(err)
	}
	bad := report(7)
	bad.Network.Interfaces[0].Mac = "not-a-mac"
	_, err := conn.Send(ctx, []*pb.Report{report(6), bad})
	wantStatus(t, err, codes.InvalidArgument, "not a MAC address")

	// A day of silence: the sweep marks the device and opens an alert.
	clock = func() time.Time { return now.Add(25 * time.Hour) }
	if n, err := c.Sweep(); err != nil || n != 1 {
		t.Fatalf("sweep marked %d (%v), want 1", n, err)
	}
	c.Metrics().AlertDelivery("secops", "webhook", "failed", 1500*time.Millisecond)
	c.Metrics().AlertDelivery("secops", "webhook", "delivered", 200*time.Millisecond)

	text, fams := scrape(t, addr)
	checks := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"farmwatch_reports_ingested_total", nil, float64(sent)},
		{"farmwatch_reports_duplicate_total", nil, 1},
		{"farmwatch_reports_rejected_total", map[string]string{"reason": server.RejectInvalidReport}, 2},
		{"farmwatch_reports_rejected_total", map[string]string{"reason": server.RejectSeqJump}, 0},
		{"farmwatch_enrollments_total", nil, 1},
		{"farmwatch_enrollment_failures_total", nil, 0},
		{"farmwatch_devices", map[string]string{"state": server.DeviceSilent}, 1},
		{"farmwatch_devices", map[string]string{"state": server.DeviceReporting}, 0},
		{"farmwatch_alerts_open", map[string]string{"kind": "device", "status": "open"}, 1},
		{"farmwatch_alert_deliveries_total", map[string]string{"sink": "secops", "type": "webhook", "outcome": "failed"}, 1},
		{"farmwatch_alert_deliveries_total", map[string]string{"sink": "secops", "type": "webhook", "outcome": "delivered"}, 1},
		{"farmwatch_alert_delivery_seconds", map[string]string{"sink": "secops", "type": "webhook"}, 2},
		{"farmwatch_build_info", map[string]string{"version": "1.2.3-test"}, 1},
		{"farmwatch_store_retries_total", nil, 0}, // bbolt's writers never conflict
	}
	for _, ck := range checks {
		if got := mustValue(t, fams, ck.name, ck.labels); got != ck.want {
			t.Errorf("%s%v = %v, want %v", ck.name, ck.labels, got, ck.want)
		}
	}
	// Three committed batches of new reports at least (the duplicate may
	// commit nothing, and writes of other calls may share a transaction).
	if n := mustValue(t, fams, "farmwatch_store_commit_seconds", nil); n < 1 {
		t.Errorf("store commit histogram count %v, want > 0", n)
	}
	if n := mustValue(t, fams, "farmwatch_ingest_batch_reports", nil); n < 1 {
		t.Errorf("batch size histogram count %v, want > 0", n)
	}
	var batchSum float64
	for _, m := range fams["farmwatch_ingest_batch_reports"].GetMetric() {
		batchSum += m.GetHistogram().GetSampleSum()
	}
	if batchSum != float64(sent+1) { // the five new and the duplicate reached the store
		t.Errorf("batch histogram sums %v reports, want %d", batchSum, sent+1)
	}
	if testcollector.Postgres() {
		// The gauge is the bbolt file's size; a shared database's size is
		// for the database's own monitoring, which sees every collector.
		if fams["farmwatch_store_size_bytes"] != nil {
			t.Errorf("farmwatch_store_size_bytes reported for a PostgreSQL store: %v", fams["farmwatch_store_size_bytes"])
		}
	} else if v := mustValue(t, fams, "farmwatch_store_size_bytes", nil); v <= 0 {
		t.Errorf("store size %v", v)
	}
	for _, db := range []string{"city", "asn"} {
		built := mustValue(t, fams, "farmwatch_geo_database_build_timestamp_seconds", map[string]string{"db": db})
		age := mustValue(t, fams, "farmwatch_geo_database_age_seconds", map[string]string{"db": db})
		if built <= 0 || age < 0 || float64(clock().Unix())-built-age > 1 || built-float64(clock().Unix())+age > 1 {
			t.Errorf("geo %s: built %v, age %v at %v", db, built, age, clock().Unix())
		}
	}
	for _, name := range []string{"go_goroutines", "process_cpu_seconds_total"} {
		if fams[name] == nil {
			t.Errorf("/metrics lacks %s (Go and process collectors)", name)
		}
	}
	if t.Failed() {
		t.Logf("/metrics:\n%s", text)
	}

	pt := promtool(t)
	cmd := exec.Command(pt, "check", "metrics")
	cmd.Stdin = strings.NewReader(text)
	if out, err := cmd.CombinedOutput(); err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
	}
}

// TestOpenAlertsCached checks that the open-alert count is read at most
// every 10 s: an alert resolved within that time still counts until then.
func TestOpenAlertsCached(t *testing.T) {
	now := time.Now()
	clock := func() time.Time { return now }
	c, conn, _ := enrolled(t, func(cfg *server.Config) {
		withMetrics(cfg)
		cfg.Now = func() time.Time { return clock() }
		cfg.ReportInterval = time.Hour
	})
	if _, err := conn.Send(context.Background(), []*pb.Report{suspicious(1)}); err != nil {
		t.Fatal(err)
	}
	clock = func() time.Time { return now.Add(25 * time.Hour) }
	if n, err := c.Sweep(); err != nil || n != 1 {
		t.Fatalf("sweep marked %d (%v)", n, err)
	}
	_, fams := scrape(t, c.MetricsAddr())
	if v := mustValue(t, fams, "farmwatch_alerts_open", nil); v != 1 {
		t.Fatalf("open alerts %v, want 1", v)
	}
	al, err := c.Admin.ListAlerts(context.Background(), &pb.ListAlertsRequest{})
	if err != nil || len(al.GetAlerts()) != 1 {
		t.Fatalf("alerts: %v %v", al, err)
	}
	if _, err := c.Admin.ResolveAlert(context.Background(), &pb.ResolveAlertRequest{Id: al.GetAlerts()[0].GetId(), Verdict: "false-positive", Note: "checked"}); err != nil {
		t.Fatal(err)
	}
	clock = func() time.Time { return now.Add(25*time.Hour + 5*time.Second) }
	if _, fams = scrape(t, c.MetricsAddr()); mustValue(t, fams, "farmwatch_alerts_open", nil) != 1 {
		t.Fatal("open alerts read again within 10 s")
	}
	clock = func() time.Time { return now.Add(25*time.Hour + 11*time.Second) }
	if _, fams = scrape(t, c.MetricsAddr()); mustValue(t, fams, "farmwatch_alerts_open", nil) != 0 {
		t.Fatal("a resolved alert still counts as open after 10 s")
	}
}

// TestEnrollmentFailuresCounted counts a refused token under its reason.
func TestEnrollmentFailuresCounted(t *testing.T) {
	c := testcollector.Start(t, withMetrics)
	_, err := enrollWithToken(c, "fwt_00000000000000000000000000000000")
	wantStatus(t, err, codes.Unauthenticated, "not valid")
	_, err = enrollWithToken(c, "")
	wantStatus(t, err, codes.InvalidArgument, "token: missing")
	_, fams := scrape(t, c.MetricsAddr())
	if v := mustValue(t, fams, "farmwatch_enrollment_failures_total", map[string]string{"reason": server.EnrollInvalidToken}); v != 1 {
		t.Errorf("invalid_token failures %v, want 1", v)
	}
	if v := mustValue(t, fams, "farmwatch_enrollment_failures_total", map[string]string{"reason": server.EnrollInvalidRequest}); v != 1 {
		t.Errorf("invalid_request failures %v, want 1", v)
	}
	if v := mustValue(t, fams, "farmwatch_enrollments_total", nil); v != 0 {
		t.Errorf("enrollments %v, want 0", v)
	}
}

func enrollWithToken(c *testcollector.Collector, token string) (*pb.EnrollResponse, error) {
	pool := x509.NewCertPool()
	pool.AddCert(c.CA().Cert)
	cc, err := grpc.NewClient(c.Addr(), grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})))
	if err != nil {
		return nil, err
	}
	defer cc.Close()
	return pb.NewAgentServiceClient(cc).Enroll(context.Background(), &pb.EnrollRequest{Token: token})
}

// TestMetricsOffByDefault: no flag, no listener.
func TestMetricsOffByDefault(t *testing.T) {
	c := testcollector.Start(t, nil)
	if a := c.MetricsAddr(); a != "" {
		t.Fatalf("metrics served on %s without --metrics-listen", a)
	}
	// The metrics still count, for the outputs that report to them.
	c.Metrics().AlertDelivery("x", "jsonl", "delivered", time.Millisecond)
}

// TestMetricsListenInUse: an address that cannot be bound fails the start
// with a message naming the flag, and leaves the data dir usable.
func TestMetricsListenInUse(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	data := t.TempDir()
	_, err = server.New(server.Config{DataDir: data, Listen: "127.0.0.1:0", MetricsListen: busy.Addr().String()})
	if err == nil || !strings.Contains(err.Error(), "--metrics-listen "+busy.Addr().String()) {
		t.Fatalf("start with a busy metrics address: %v", err)
	}
	// Nothing was left holding the store.
	srv, err := server.New(server.Config{DataDir: data, Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatalf("start after the failed one: %v", err)
	}
	srv.Stop(context.Background())
}

// roleConn dials the collector with an admin certificate of role.
func roleConn(t *testing.T, c *testcollector.Collector, role string) *grpc.ClientConn {
	t.Helper()
	certPEM, keyPEM, err := c.CA().IssueAdmin("grpcurl-user", role, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(c.CA().Cert)
	cc, err := grpc.NewClient(c.Addr(), grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{
		Certificates: []tls.Certificate{cert}, RootCAs: pool, ServerName: "127.0.0.1"})))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return cc
}

// listServices asks for the service list over reflection v1 (v1alpha when
// alpha is set).
func listServices(ctx context.Context, cc *grpc.ClientConn, alpha bool) ([]string, error) {
	var names []string
	if alpha {
		st, err := reflectionv1alpha.NewServerReflectionClient(cc).ServerReflectionInfo(ctx)
		if err != nil {
			return nil, err
		}
		if err := st.Send(&reflectionv1alpha.ServerReflectionRequest{MessageRequest: &reflectionv1alpha.ServerReflectionRequest_ListServices{}}); err != nil {
			return nil, sendErr(st, err)
		}
		resp, err := st.Recv()
		if err != nil {
			return nil, err
		}
		for _, s := range resp.GetListServicesResponse().GetService() {
			names = append(names, s.GetName())
		}
		return names, st.CloseSend()
	}
	st, err := reflectionv1.NewServerReflectionClient(cc).ServerReflectionInfo(ctx)
	if err != nil {
		return nil, err
	}
	if err := st.Send(&reflectionv1.ServerReflectionRequest{MessageRequest: &reflectionv1.ServerReflectionRequest_ListServices{}}); err != nil {
		return nil, sendErr(st, err)
	}
	resp, err := st.Recv()
	if err != nil {
		return nil, err
	}
	for _, s := range resp.GetListServicesResponse().GetService() {
		names = append(names, s.GetName())
	}
	return names, st.CloseSend()
}

// sendErr is the stream's status when a send failed because the server
// ended the stream (io.EOF).
func sendErr(st interface{ RecvMsg(any) error }, err error) error {
	if errors.Is(err, io.EOF) {
		var m reflectionv1.ServerReflectionResponse
		return st.RecvMsg(&m)
	}
	return err
}

// TestReflectionAdminsOnly: grpcurl-style listing works with a viewer's or
// reviewer's certificate, and is refused with a device certificate or none.
func TestReflectionAdminsOnly(t *testing.T) {
	c, _, id := enrolled(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, role := range []string{pki.RoleViewer, pki.RoleReviewer} {
		for _, alpha := range []bool{false, true} {
			names, err := listServices(ctx, roleConn(t, c, role), alpha)
			if err != nil {
				t.Fatalf("%s, v1alpha %v: %v", role, alpha, err)
			}
			for _, want := range []string{"farmwatch.v1.AdminService", "farmwatch.v1.AgentService", "grpc.health.v1.Health"} {
				if !slices.Contains(names, want) {
					t.Errorf("%s, v1alpha %v: services %v lack %s", role, alpha, names, want)
				}
			}
		}
	}
	// The admin reads a message's descriptor, as grpcurl describe does.
	st, err := reflectionv1.NewServerReflectionClient(roleConn(t, c, pki.RoleViewer)).ServerReflectionInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Send(&reflectionv1.ServerReflectionRequest{MessageRequest: &reflectionv1.ServerReflectionRequest_FileContainingSymbol{
		FileContainingSymbol: "farmwatch.v1.AdminService"}}); err != nil {
		t.Fatal(err)
	}
	if resp, err := st.Recv(); err != nil || len(resp.GetFileDescriptorResponse().GetFileDescriptorProto()) == 0 {
		t.Fatalf("describe AdminService: %v %v", resp, err)
	}

	agentTLS, err := id.TLSConfig("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	agent, err := grpc.NewClient(c.Addr(), grpc.WithTransportCredentials(credentials.NewTLS(agentTLS)))
	if err != nil {
		t.Fatal(err)
	}
	defer agent.Close()
	pool := x509.NewCertPool()
	pool.AddCert(c.CA().Cert)
	anon, err := grpc.NewClient(c.Addr(), grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})))
	if err != nil {
		t.Fatal(err)
	}
	defer anon.Close()
	for _, alpha := range []bool{false, true} {
		_, err := listServices(ctx, agent, alpha)
		wantStatus(t, err, codes.PermissionDenied, "needs an admin certificate")
		_, err = listServices(ctx, anon, alpha)
		wantStatus(t, err, codes.Unauthenticated, "client certificate")
	}
}

// TestHealthAndReadiness: /healthz answers while the process runs; /readyz
// is 503 before Serve and while the collector shuts down, 200 in between;
// the listener goes with the collector.
func TestHealthAndReadiness(t *testing.T) {
	data := t.TempDir()
	srv, err := server.New(server.Config{DataDir: data, Listen: "127.0.0.1:0", MetricsListen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + srv.MetricsAddr()
	if code, body := get(t, base+"/healthz"); code != http.StatusOK {
		t.Fatalf("/healthz before Serve: %d %s", code, body)
	}
	if code, body := get(t, base+"/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "starting") {
		t.Fatalf("/readyz before Serve: %d %q, want 503 starting", code, body)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve() }()
	waitFor(t, "/readyz 200 after Serve", func() bool { code, _ := get(t, base+"/readyz"); return code == http.StatusOK })
	if resp, err := http.Post(base+"/readyz", "text/plain", nil); err != nil || resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("POST /readyz: %v %v", resp, err)
	}

	// A call in flight (an admin's reflection stream) holds the shutdown
	// open: meanwhile /readyz says why it is not ready.
	certPEM, keyPEM, err := srv.CA().IssueAdmin("ops", pki.RoleViewer, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := tls.X509KeyPair(certPEM, keyPEM)
	pool := x509.NewCertPool()
	pool.AddCert(srv.CA().Cert)
	cc, err := grpc.NewClient(srv.Addr(), grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{
		Certificates: []tls.Certificate{cert}, RootCAs: pool, ServerName: "127.0.0.1"})))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	sctx, cancelStream := context.WithCancel(context.Background())
	defer cancelStream()
	st, err := reflectionv1.NewServerReflectionClient(cc).ServerReflectionInfo(sctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Send(&reflectionv1.ServerReflectionRequest{MessageRequest: &reflectionv1.ServerReflectionRequest_ListServices{}}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Recv(); err != nil {
		t.Fatal(err)
	}
	stopped := make(chan struct{})
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		srv.Stop(ctx)
		close(stopped)
	}()
	waitFor(t, "/readyz 503 shutting down", func() bool {
		code, body := get(t, base+"/readyz")
		return code == http.StatusServiceUnavailable && strings.Contains(body, "shutting down")
	})
	if code, _ := get(t, base+"/healthz"); code != http.StatusOK {
		t.Fatalf("/healthz during shutdown: %d", code)
	}
	select {
	case <-stopped:
		t.Fatal("Stop returned with a call in flight")
	default:
	}
	cancelStream()
	select {
	case <-stopped:
	case <-time.After(15 * time.Second):
		t.Fatal("Stop did not return after the last call ended")
	}
	if err := <-done; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Fatal("the metrics listener outlived the collector")
	}
}

// TestAlertingRulesFile: the sample rules in docs/examples pass promtool
// and name only metrics the collector exposes.
func TestAlertingRulesFile(t *testing.T) {
	path := filepath.Join("..", "..", "docs", "examples", "farmwatch-rules.yml")
	rules, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	c := testcollector.Start(t, withMetrics)
	text, fams := scrape(t, c.MetricsAddr())
	// Metrics with no sample yet (labelled by output) still have a HELP line.
	helped := regexp.MustCompile(`(?m)^# HELP (\w+) `).FindAllStringSubmatch(text, -1)
	known := map[string]bool{}
	for name := range fams {
		known[name] = true
	}
	for _, m := range helped {
		known[m[1]] = true
	}
	// Labelled by output: no series until an output delivers.
	known["farmwatch_alert_deliveries_total"], known["farmwatch_alert_delivery_seconds"] = true, true
	for _, m := range regexp.MustCompile(`farmwatch_\w+`).FindAllString(string(rules), -1) {
		base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(m, "_bucket"), "_count"), "_sum")
		if !known[base] && !known[m] {
			t.Errorf("%s names %s, which the collector does not expose", path, m)
		}
	}
	if !strings.Contains(string(rules), `farmwatch_alert_deliveries_total{outcome="failed"}`) {
		t.Errorf("%s lacks the failing-deliveries rule", path)
	}
	out, err := exec.Command(promtool(t), "check", "rules", path).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check rules %s: %v\n%s", path, err, out)
	}
	if !strings.Contains(string(out), "SUCCESS") {
		t.Fatalf("promtool check rules: %s", out)
	}
}
