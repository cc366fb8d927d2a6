package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/farmwatch/farmwatch/collector/server"
	"github.com/farmwatch/farmwatch/collector/sinks"
	"github.com/farmwatch/farmwatch/collector/store"
	"github.com/farmwatch/farmwatch/internal/testcollector"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// TestWebhooksCommands: list, test and retry against a collector with a
// webhook output whose receiver checks signatures.
func TestWebhooksCommands(t *testing.T) {
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	key, _ := sinks.ParseSecret(secret)
	var status atomic.Int32
	status.Store(http.StatusNoContent)
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := sinks.Verify(key, r.Header, body, time.Now(), 0); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		w.WriteHeader(int(status.Load()))
	}))
	defer rcv.Close()
	dir := t.TempDir()
	outputs := filepath.Join(dir, "outputs.yaml")
	t.Setenv("FARMWATCH_TEST_WEBHOOK_SECRET", secret)
	os.WriteFile(outputs, []byte("outputs:\n  - name: secops\n    type: webhook\n    url: "+rcv.URL+
		"/in\n    secret_env: FARMWATCH_TEST_WEBHOOK_SECRET\n    kinds: [farm]\n"), 0o600)
	c := testcollector.Start(t, func(cfg *server.Config) { cfg.Outputs = outputs })

	out, _, err := runCLI(t, c.Data, "webhooks", "list")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("webhooks list:\n%s", out)
	if !strings.Contains(out, "secops") || !strings.Contains(out, "webhook") || !strings.Contains(out, rcv.URL+"/in") || strings.Contains(out, "dead letters") {
		t.Errorf("webhooks list:\n%s", out)
	}
	out, _, err = runCLI(t, c.Data, "webhooks", "list", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var list struct {
		Sinks []struct {
			Name  string   `json:"name"`
			Kinds []string `json:"kinds"`
		} `json:"sinks"`
		DeadLetters []any `json:"dead_letters"`
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil || len(list.Sinks) != 1 || list.Sinks[0].Name != "secops" ||
		list.DeadLetters == nil {
		t.Errorf("webhooks list -o json (%v):\n%s", err, out)
	}
	out, _, err = runCLI(t, c.Data, "webhooks", "test", "secops")
	if err != nil || !strings.Contains(out, "secops: test event delivered in") || !strings.Contains(out, "(HTTP 204)") {
		t.Errorf("webhooks test: %v\n%s", err, out)
	}
	status.Store(http.StatusBadGateway)
	_, _, err = runCLI(t, c.Data, "webhooks", "test", "secops")
	if err == nil || !strings.Contains(err.Error(), "not delivered") || !strings.Contains(err.Error(), "502") {
		t.Errorf("webhooks test against a 502: %v", err)
	}
	if _, _, err := runCLI(t, c.Data, "webhooks", "test", "nope"); err == nil || !strings.Contains(err.Error(), `no such output named "nope"`) {
		t.Errorf("webhooks test nope: %v", err)
	}
	if _, _, err := runCLI(t, c.Data, "webhooks", "retry", "secops", "--event", "12"); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("retry of an event with no dead letter: %v", err)
	}
	out, _, err = runCLI(t, c.Data, "webhooks", "retry", "secops", "--all")
	if err != nil || !strings.Contains(out, "secops: 0 dead letters requeued") {
		t.Errorf("retry --all with none: %v\n%s", err, out)
	}

	// A dead letter shows under the outputs, and is requeued by id.
	err = c.Store().Update(func(tx *store.Tx) error {
		return tx.PutDeadLetter(&pb.DeadLetter{Sink: "secops", EventId: 7, AlertId: "A-000007", EventType: "opened", Attempts: 8,
			LastError: "POST http://x/in: the receiver answered 503 Service Unavailable", DeadAt: timestamppb.Now()})
	})
	if err != nil {
		t.Fatal(err)
	}
	out, _, err = runCLI(t, c.Data, "webhooks", "list")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("webhooks list:\n%s", out)
	if !strings.Contains(out, "dead letters (farmwatch webhooks retry") || !strings.Contains(out, "A-000007") || !strings.Contains(out, "503") {
		t.Errorf("webhooks list with a dead letter:\n%s", out)
	}
	out, _, err = runCLI(t, c.Data, "webhooks", "retry", "secops", "--event", "7")
	if err != nil || !strings.Contains(out, "secops: 1 dead letters requeued") {
		t.Errorf("retry --event 7: %v\n%s", err, out)
	}
}
