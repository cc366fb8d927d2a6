package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/farmwatch/farmwatch/collector/server"
	"github.com/farmwatch/farmwatch/collector/sinks"
	"github.com/farmwatch/farmwatch/internal/testcollector"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
	"github.com/farmwatch/farmwatch/sim"
)

// TestAlertEventsReachTheOutputs: a farm alert opened by real reports and
// acknowledged by a reviewer reaches a signed webhook (kinds: [farm]) and
// the JSON-lines file as the same events, in id order, each once.
func TestAlertEventsReachTheOutputs(t *testing.T) {
	key, _ := sinks.ParseSecret(webhookSecret)
	var mu sync.Mutex
	var got []*pb.AlertEvent
	seen := map[string]int{}
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := sinks.Verify(key, r.Header, body, time.Now(), 0); err != nil {
			t.Errorf("webhook signature: %v", err)
			http.Error(w, err.Error(), 401)
			return
		}
		ev := &pb.AlertEvent{}
		if err := protojson.Unmarshal(body, ev); err != nil {
			t.Errorf("webhook body: %v", err)
		}
		mu.Lock()
		got = append(got, ev)
		seen[r.Header.Get(sinks.HeaderID)]++
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer rcv.Close()
	dir := t.TempDir()
	jsonl := filepath.Join(dir, "alerts.jsonl")
	outputs := filepath.Join(dir, "outputs.yaml")
	t.Setenv("FARMWATCH_E2E_SECRET", webhookSecret)
	os.WriteFile(outputs, []byte("outputs:\n  - name: secops\n    type: webhook\n    url: "+rcv.URL+
		"/in\n    secret_env: FARMWATCH_E2E_SECRET\n    kinds: [farm]\n  - name: siem\n    type: jsonl\n    path: "+jsonl+"\n"), 0o600)
	c := testcollector.Start(t, func(cfg *server.Config) { cfg.Outputs, cfg.MetricsListen = outputs, "127.0.0.1:0" })
	ctx := context.Background()
	fp, _ := c.Options().CAFingerprint()
	fleet := sim.Plan(6, 2)
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
	for seq := uint64(1); seq <= 2; seq++ {
		for _, d := range farm {
			if _, err := d.Send(ctx, []*pb.Report{d.Report(seq, time.Now(), 0)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	fa := farmAlerts(t, c)
	if len(fa) != 1 {
		t.Fatalf("farm alerts: %v", fa)
	}
	if last, err := c.Store().LastAlertEventID(); err != nil || last == 0 {
		t.Fatalf("the farm alert wrote no alert event (LastAlertEventID %d, %v)", last, err)
	}
	if _, err := c.Admin.AckAlert(ctx, &pb.AckAlertRequest{Id: fa[0].GetId(), Note: "looking"}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		mu.Lock()
		n := len(got)
		acked := n > 0 && got[n-1].GetType() == "acknowledged"
		mu.Unlock()
		if acked {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no acknowledged event at the webhook; got %d events", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if got[0].GetType() != "opened" || got[0].GetAlert().GetId() != fa[0].GetId() {
		t.Errorf("first event %v, want the farm alert opened", got[0])
	}
	last := got[len(got)-1]
	if last.GetActor() != "local-operator" || last.GetAlert().GetStatus() != "acknowledged" {
		t.Errorf("acknowledged event: %v", last)
	}
	for i, ev := range got {
		if ev.GetAlert().GetKind() != "farm" {
			t.Errorf("event %d of kind %s passed the kinds filter", ev.GetId(), ev.GetAlert().GetKind())
		}
		if i > 0 && ev.GetId() <= got[i-1].GetId() {
			t.Errorf("event %d after %d", ev.GetId(), got[i-1].GetId())
		}
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("%s delivered %d times", id, n)
		}
	}
	delivered := len(seen)
	mu.Unlock()
	// /metrics counts each delivery the receiver took (the count follows
	// the receiver's answer, so it may trail it for a moment).
	deadline = time.Now().Add(10 * time.Second)
	for {
		_, fams := scrape(t, c.MetricsAddr())
		v, _ := value(fams, "farmwatch_alert_deliveries_total", map[string]string{"sink": "secops", "type": "webhook", "outcome": "delivered"})
		if int(v) == delivered {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("farmwatch_alert_deliveries_total{sink=secops,outcome=delivered} = %v, want %d", v, delivered)
		}
		time.Sleep(20 * time.Millisecond)
	}
	mu.Lock()
	// The JSON-lines file has every event, of every kind, up to the newest.
	newest, _ := c.Store().LastAlertEventID()
	deadline = time.Now().Add(20 * time.Second)
	for {
		f, err := os.Open(jsonl)
		var ids []uint64
		if err == nil {
			sc := bufio.NewScanner(f)
			sc.Buffer(nil, 4<<20)
			for sc.Scan() {
				var e sinks.ECSEvent
				if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
					t.Fatalf("JSON line: %v", err)
				}
				ids = append(ids, e.Event.Sequence)
			}
			f.Close()
		}
		if len(ids) > 0 && ids[len(ids)-1] == newest {
			for i := range ids {
				if ids[i] != ids[0]+uint64(i) {
					t.Fatalf("JSON lines ids %v: want consecutive", ids)
				}
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("JSON lines ids %v, want up to %d", ids, newest)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
