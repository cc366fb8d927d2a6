package server_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/farmwatch/farmwatch/collector/pki"
	"github.com/farmwatch/farmwatch/collector/server"
	"github.com/farmwatch/farmwatch/collector/store"
	"github.com/farmwatch/farmwatch/internal/testcollector"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
	"github.com/farmwatch/farmwatch/sim"
)

// received is what one WatchAlerts stream delivered, and how it ended.
type received struct {
	header metadata.MD
	events chan *pb.AlertEvent
	end    chan error
}

func watch(t *testing.T, ctx context.Context, admin pb.AdminServiceClient, req *pb.WatchAlertsRequest) *received {
	t.Helper()
	stream, err := admin.WatchAlerts(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	r := &received{events: make(chan *pb.AlertEvent, 10000), end: make(chan error, 1)}
	if r.header, err = stream.Header(); err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			ev, err := stream.Recv()
			if err != nil {
				r.end <- err
				return
			}
			r.events <- ev
		}
	}()
	return r
}

// until takes events until the stream has delivered the one with id last.
func (r *received) until(t *testing.T, last uint64) []*pb.AlertEvent {
	t.Helper()
	var out []*pb.AlertEvent
	deadline := time.After(30 * time.Second)
	for len(out) == 0 || out[len(out)-1].GetId() < last {
		select {
		case ev := <-r.events:
			out = append(out, ev)
		case err := <-r.end:
			t.Fatalf("the stream ended before event %d: %v (got %d events)", last, err, len(out))
		case <-deadline:
			t.Fatalf("no event %d after 30 s (got %d events)", last, len(out))
		}
	}
	return out
}

// TestWatchAlertsOverTLS: a viewer watches over real gRPC and TLS while a
// simulated fleet reports and the analysis raises alerts; the stream
// carries every event the log holds, in order, as each commits; a
// reviewer's acknowledgement is an event with the reviewer's name; filters
// choose what is sent; each committed event is logged; a pruned position is
// refused, not skipped; a stopping collector ends the stream Unavailable.
func TestWatchAlertsOverTLS(t *testing.T) {
	var logs lockedBuffer
	saved := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&logs, nil)))
	t.Cleanup(func() { slog.SetDefault(saved) })

	c := testcollector.Start(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	st := c.Server.Store()
	v := viewer(t, c)
	live := watch(t, ctx, v, &pb.WatchAlertsRequest{})
	if got := live.header.Get(server.WatchAfterHeader); len(got) != 1 || got[0] != "0" {
		t.Errorf("the header of a watch from now on an empty log: %v", got)
	}

	fp, _ := c.Options().CAFingerprint()
	fleet := sim.Plan(12, 7)
	defer fleet.Close()
	if err := fleet.Register(ctx, c.Admin); err != nil {
		t.Fatal(err)
	}
	if err := fleet.Enroll(ctx, c.Addr(), fp, 8); err != nil {
		t.Fatal(err)
	}
	for round := range 3 {
		if _, err := fleet.Send(ctx, time.Now(), 2, 8); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
	}
	last, err := st.LastAlertEventID()
	if err != nil || last == 0 {
		t.Fatalf("no alert event after the fleet reported: %d %v", last, err)
	}
	got := live.until(t, last)
	logged, err := st.AlertEvents(0, 100000)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(logged) {
		t.Fatalf("the stream carried %d events, the log holds %d", len(got), len(logged))
	}
	opened := map[string]bool{}
	for i, ev := range got {
		if ev.GetId() != uint64(i+1) || ev.GetId() != logged[i].GetId() || ev.GetType() != logged[i].GetType() {
			t.Fatalf("event %d: id %d type %s; the log's is %d %s", i, ev.GetId(), ev.GetType(), logged[i].GetId(), logged[i].GetType())
		}
		if ev.GetType() == store.EventOpened {
			opened[ev.GetAlert().GetId()] = true
		}
		want := fmt.Sprintf(`event_id=%d type=%s alert=%s kind=%s score=`, ev.GetId(), ev.GetType(), ev.GetAlert().GetId(), ev.GetAlert().GetKind())
		if !logLine(logs.String(), `level=INFO msg="alert event"`, want) {
			t.Errorf("the collector did not log event %d: no line with %q", ev.GetId(), want)
		}
	}
	alerts, err := c.Admin.ListAlerts(ctx, &pb.ListAlertsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var kinds = map[string]int{}
	for _, a := range alerts.GetAlerts() {
		kinds[a.GetKind()]++
		if !opened[a.GetId()] {
			t.Errorf("alert %s (%s) has no opened event", a.GetId(), a.GetKind())
		}
	}
	if len(opened) != len(alerts.GetAlerts()) || kinds["farm"] == 0 || kinds["device"] == 0 {
		t.Errorf("%d opened events, %d alerts (%v): want one each, farms and devices among them", len(opened), len(alerts.GetAlerts()), kinds)
	}

	// A reviewer acknowledges: the event names them and streams at once.
	target := alerts.GetAlerts()[0]
	if _, err := c.Admin.AckAlert(ctx, &pb.AckAlertRequest{Id: target.GetId(), Note: "looking"}); err != nil {
		t.Fatal(err)
	}
	ack := live.until(t, last+1)
	if len(ack) != 1 || ack[0].GetType() != store.EventAcknowledged || ack[0].GetActor() != "local-operator" ||
		ack[0].GetAlert().GetId() != target.GetId() || ack[0].GetAlert().GetStatus() != "acknowledged" {
		t.Errorf("the acknowledgement's event: %v", ack)
	}
	last++

	// Filters: farm alerts only, from the start of the log; the position
	// still moves past what is filtered out.
	farms := watch(t, ctx, v, &pb.WatchAlertsRequest{After: ptr(uint64(0)), Kinds: []string{"farm"}})
	if _, err := c.Admin.AckAlert(ctx, &pb.AckAlertRequest{Id: farmOf(alerts.GetAlerts(), target.GetId()), Note: "also"}); err != nil {
		t.Fatal(err)
	}
	last++
	fgot := farms.until(t, last)
	var wantFarm int
	for _, ev := range append(logged, ack...) {
		if ev.GetAlert().GetKind() == "farm" {
			wantFarm++
		}
	}
	for _, ev := range fgot {
		if ev.GetAlert().GetKind() != "farm" {
			t.Errorf("a farm-only watch sent a %s event: %d", ev.GetAlert().GetKind(), ev.GetId())
		}
	}
	if len(fgot) != wantFarm+1 {
		t.Errorf("a farm-only watch from 0 sent %d events, want %d", len(fgot), wantFarm+1)
	}
	high := watch(t, ctx, v, &pb.WatchAlertsRequest{After: ptr(uint64(0)), MinScore: 0.99})
	select {
	case ev := <-high.events:
		if ev.GetAlert().GetScore() < 0.99 && ev.GetAlert().GetPeakScore() < 0.99 {
			t.Errorf("min_score 0.99 sent event %d of an alert at %.2f (peak %.2f)", ev.GetId(), ev.GetAlert().GetScore(), ev.GetAlert().GetPeakScore())
		}
	case <-time.After(300 * time.Millisecond):
	}

	// Bad requests.
	for _, req := range []*pb.WatchAlertsRequest{{MinScore: 2}, {Kinds: []string{"printer"}}} {
		r, err := v.WatchAlerts(ctx, req)
		if err == nil {
			_, err = r.Recv()
		}
		if status.Code(err) != codes.InvalidArgument {
			t.Errorf("watch %v: %v; want InvalidArgument", req, err)
		}
	}
	r, err := v.WatchAlerts(ctx, &pb.WatchAlertsRequest{After: ptr(last + 5)})
	if err == nil {
		_, err = r.Recv()
	}
	if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "beyond the newest event") {
		t.Errorf("a watch after an id the log never had: %v", err)
	}

	// Retention pruned all but the newest: a watch from an older position
	// is refused with the oldest kept id, never given a silent gap.
	if n, err := st.PruneAlertEvents(time.Now().Add(time.Hour)); err != nil || n != int(last-1) {
		t.Fatalf("pruned %d, %v; want %d", n, err, last-1)
	}
	r, err = v.WatchAlerts(ctx, &pb.WatchAlertsRequest{After: ptr(uint64(3))})
	if err == nil {
		_, err = r.Recv()
	}
	if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), fmt.Sprintf("the oldest kept is %d", last)) {
		t.Errorf("a watch from a pruned position: %v", err)
	}
	// Right before the oldest kept is no gap.
	tail := watch(t, ctx, v, &pb.WatchAlertsRequest{After: ptr(last - 1)})
	if evs := tail.until(t, last); len(evs) != 1 {
		t.Errorf("a watch from just before the oldest kept: %v", evs)
	}

	// The collector stops: open streams end Unavailable.
	c.Stop()
	for name, r := range map[string]*received{"live": live, "farms": farms, "tail": tail} {
		select {
		case err := <-r.end:
			if status.Code(err) != codes.Unavailable {
				t.Errorf("%s stream at stop: %v; want Unavailable", name, err)
			}
		case <-time.After(15 * time.Second):
			t.Errorf("%s stream still open after the collector stopped", name)
		}
	}
}

func ptr[T any](v T) *T { return &v }

// farmOf is the farm alert among alerts (other than except).
func farmOf(alerts []*pb.Alert, except string) string {
	for _, a := range alerts {
		if a.GetKind() == "farm" && a.GetId() != except && a.GetStatus() == "open" {
			return a.GetId()
		}
	}
	return ""
}

// logLine tells whether one line of logs holds every part.
func logLine(logs string, parts ...string) bool {
	for _, l := range strings.Split(logs, "\n") {
		all := true
		for _, p := range parts {
			all = all && strings.Contains(l, p)
		}
		if all {
			return true
		}
	}
	return false
}

// A watch outlives calls: an admin certificate revoked while its watch runs
// ends the watch at the next event, and a new watch is refused; agents'
// certificates and connections without one never watch.
func TestWatchAlertsEndsAtRevocation(t *testing.T) {
	c := testcollector.Start(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ana, resp, err := issue(t, c, c.Admin, "ana", pki.RoleViewer, 30)
	if err != nil {
		t.Fatal(err)
	}
	w := watch(t, ctx, ana, &pb.WatchAlertsRequest{})
	put := func(id string) {
		t.Helper()
		if err := c.Server.Store().Update(func(tx *store.Tx) error {
			return tx.PutAlert("d-"+id, &pb.Alert{Id: id, Kind: "device", DeviceId: "d-" + id, Status: "open", Score: 0.7})
		}); err != nil {
			t.Fatal(err)
		}
	}
	put("A-000001")
	if evs := w.until(t, 1); evs[0].GetAlert().GetId() != "A-000001" {
		t.Fatalf("before the revocation: %v", evs)
	}
	if _, err := c.Admin.RevokeAdmin(ctx, &pb.RevokeAdminRequest{Serial: resp.GetSerial(), Note: "left the team"}); err != nil {
		t.Fatal(err)
	}
	put("A-000002")
	select {
	case err := <-w.end:
		wantStatus(t, err, codes.Unauthenticated, "was revoked at")
	case ev := <-w.events:
		t.Fatalf("a revoked certificate's watch received event %d", ev.GetId())
	case <-time.After(10 * time.Second):
		t.Fatal("the revoked certificate's watch is still open")
	}
	r, err := ana.WatchAlerts(ctx, &pb.WatchAlertsRequest{})
	if err == nil {
		_, err = r.Recv()
	}
	wantStatus(t, err, codes.Unauthenticated, "was revoked at")

	// Without a client certificate: refused by the stream interceptor.
	pool := x509.NewCertPool()
	pool.AddCert(c.CA().Cert)
	cc, err := grpc.NewClient(c.Addr(), grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	r, err = pb.NewAdminServiceClient(cc).WatchAlerts(ctx, &pb.WatchAlertsRequest{})
	if err == nil {
		_, err = r.Recv()
	}
	wantStatus(t, err, codes.Unauthenticated, "client certificate")
}
