package server_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/farmwatch/farmwatch/collector/server"
	"github.com/farmwatch/farmwatch/collector/sinks"
	"github.com/farmwatch/farmwatch/collector/store"
	"github.com/farmwatch/farmwatch/internal/testcollector"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

const webhookSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// TestWebhookCalls: the outputs file configures the collector's outputs;
// ListWebhooks is open to viewers, TestWebhook and RetryWebhook need a
// reviewer and are audited.
func TestWebhookCalls(t *testing.T) {
	key, _ := sinks.ParseSecret(webhookSecret)
	var mu sync.Mutex
	var verified, bad int
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		if err := sinks.Verify(key, r.Header, body, time.Now(), 0); err != nil {
			bad++
			http.Error(w, err.Error(), 401)
			return
		}
		verified++
		w.WriteHeader(http.StatusNoContent)
	}))
	defer rcv.Close()
	dir := t.TempDir()
	secret := filepath.Join(dir, "secops.secret")
	os.WriteFile(secret, []byte(webhookSecret+"\n"), 0o600)
	outputs := filepath.Join(dir, "outputs.yaml")
	os.WriteFile(outputs, []byte("outputs:\n  - name: secops\n    type: webhook\n    url: "+rcv.URL+"/hook?token=x\n    secret_file: "+secret+
		"\n    kinds: [farm]\n  - name: siem-file\n    type: jsonl\n    path: "+filepath.Join(dir, "alerts.jsonl")+"\n"), 0o600)
	c := testcollector.Start(t, func(cfg *server.Config) { cfg.Outputs = outputs })
	ctx := context.Background()
	v := viewer(t, c)

	list, err := v.ListWebhooks(ctx, &pb.ListWebhooksRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.GetSinks()) != 2 || list.GetSinks()[0].GetName() != "secops" || list.GetSinks()[0].GetTarget() != rcv.URL+"/hook" ||
		list.GetSinks()[0].GetKinds()[0] != "farm" || list.GetSinks()[1].GetType() != "jsonl" {
		t.Errorf("sinks: %v", list.GetSinks())
	}
	if _, err := v.TestWebhook(ctx, &pb.TestWebhookRequest{Sink: "secops"}); status.Code(err) != codes.PermissionDenied {
		t.Errorf("viewer TestWebhook: %v, want PermissionDenied", err)
	}
	if _, err := v.RetryWebhook(ctx, &pb.RetryWebhookRequest{Sink: "secops", All: true}); status.Code(err) != codes.PermissionDenied {
		t.Errorf("viewer RetryWebhook: %v, want PermissionDenied", err)
	}
	resp, err := c.Admin.TestWebhook(ctx, &pb.TestWebhookRequest{Sink: "secops"})
	if err != nil || resp.GetError() != "" || resp.GetHttpStatus() != 204 || resp.GetTook() == nil {
		t.Fatalf("TestWebhook: %v %v", resp, err)
	}
	mu.Lock()
	if verified != 1 || bad != 0 {
		t.Errorf("receiver: %d verified, %d bad signatures", verified, bad)
	}
	mu.Unlock()
	if _, err := c.Admin.TestWebhook(ctx, &pb.TestWebhookRequest{Sink: "nope"}); status.Code(err) != codes.NotFound {
		t.Errorf("TestWebhook of an unknown output: %v", err)
	}

	// A dead letter whose event the log no longer holds: retried, it is
	// kept with the reason.
	err = c.Store().Update(func(tx *store.Tx) error {
		return tx.PutDeadLetter(&pb.DeadLetter{Sink: "secops", EventId: 7, AlertId: "al-7", EventType: "opened", Attempts: 8,
			LastError: "503", FirstAttempt: timestamppb.Now(), DeadAt: timestamppb.Now()})
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Admin.RetryWebhook(ctx, &pb.RetryWebhookRequest{Sink: "secops"}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("RetryWebhook with neither ids nor all: %v", err)
	}
	if _, err := c.Admin.RetryWebhook(ctx, &pb.RetryWebhookRequest{Sink: "secops", EventIds: []uint64{8}}); status.Code(err) != codes.NotFound {
		t.Errorf("RetryWebhook of an event with no dead letter: %v", err)
	}
	r, err := c.Admin.RetryWebhook(ctx, &pb.RetryWebhookRequest{Sink: "secops", EventIds: []uint64{7}})
	if err != nil || r.GetRequeued() != 1 {
		t.Fatalf("RetryWebhook: %v %v", r, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		l, err := v.ListWebhooks(ctx, &pb.ListWebhooksRequest{Sink: "secops"})
		if err != nil {
			t.Fatal(err)
		}
		if len(l.GetDeadLetters()) == 1 && strings.Contains(l.GetDeadLetters()[0].GetLastError(), "no longer in the alert event log") &&
			l.GetSinks()[0].GetDeadLetters() == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("dead letter after retry: %v", l)
		}
		time.Sleep(20 * time.Millisecond)
	}
	audit, err := c.Admin.ListAudit(ctx, &pb.ListAuditRequest{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range audit.GetEntries() {
		if strings.HasPrefix(e.GetAction(), "webhook.") {
			actions = append(actions, e.GetAction()+" "+e.GetSubject()+" "+e.GetDetail())
		}
	}
	if got := strings.Join(actions, "\n"); !strings.Contains(got, "webhook.test secops delivered") ||
		!strings.Contains(got, "webhook.retry secops 1 dead letters requeued: events 7") {
		t.Errorf("audit:\n%s", got)
	}
}

// TestBadOutputsRefusedAtStart: a bad outputs file stops the collector
// before it starts, naming the output and the field.
func TestBadOutputsRefusedAtStart(t *testing.T) {
	dir := t.TempDir()
	outputs := filepath.Join(dir, "outputs.yaml")
	os.WriteFile(outputs, []byte("outputs:\n  - name: secops\n    type: webhook\n    url: https://hooks.example.com/in\n"), 0o600)
	_, err := server.New(server.Config{DataDir: filepath.Join(dir, "data"), Listen: "127.0.0.1:0", Outputs: outputs})
	if err == nil || !strings.Contains(err.Error(), `output "secops"`) || !strings.Contains(err.Error(), "secret") {
		t.Fatalf("New with a webhook without a secret: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "data", store.File)); err == nil {
		t.Errorf("the store was created before the outputs file was checked")
	}
}
