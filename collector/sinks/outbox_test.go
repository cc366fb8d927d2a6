package sinks

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/farmwatch/farmwatch/collector/store"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// receiver is a webhook receiver that verifies every signature and can be
// made to answer 503 or to refuse connections, on the same address.
type receiver struct {
	t    testing.TB
	key  []byte
	addr string

	mu      sync.Mutex
	srv     *http.Server
	mode    string         // up, 503
	acked   map[string]int // webhook-id -> times answered 2xx
	bodies  map[string][]byte
	badSigs int
	hits    atomic.Int64
}

func newReceiver(t testing.TB) *receiver {
	key, err := ParseSecret(testSecret)
	if err != nil {
		t.Fatal(err)
	}
	r := &receiver{t: t, key: key, mode: "up", acked: map[string]int{}, bodies: map[string][]byte{}}
	r.listen("127.0.0.1:0")
	t.Cleanup(r.down)
	return r
}

func (r *receiver) listen(addr string) {
	var lis net.Listener
	var err error
	for range 100 { // the port may linger for a moment after a close
		if lis, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil {
		r.t.Fatal(err)
	}
	r.addr = lis.Addr().String()
	srv := &http.Server{Handler: http.HandlerFunc(r.serve)}
	r.mu.Lock()
	r.srv = srv
	r.mu.Unlock()
	go srv.Serve(lis)
}

// down closes the listener and every connection: deliveries are refused.
func (r *receiver) down() {
	r.mu.Lock()
	srv := r.srv
	r.srv = nil
	r.mu.Unlock()
	if srv != nil {
		srv.Close()
	}
}

func (r *receiver) up() { r.listen(r.addr) }

func (r *receiver) setMode(m string) {
	r.mu.Lock()
	r.mode = m
	r.mu.Unlock()
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	r.hits.Add(1)
	body, _ := io.ReadAll(req.Body)
	if err := Verify(r.key, req.Header, body, time.Now(), 0); err != nil {
		r.mu.Lock()
		r.badSigs++
		r.mu.Unlock()
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.mode == "503" {
		http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
		return
	}
	id := req.Header.Get(HeaderID)
	r.acked[id]++
	r.bodies[id] = body
	w.WriteHeader(http.StatusNoContent)
}

func (r *receiver) ackedCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.acked)
}

func (r *receiver) url() string { return "http://" + r.addr + "/hook" }

func webhookConfig(t testing.TB, name, url, extra string) *Config {
	t.Setenv("FW_SECRET", testSecret)
	cfg, err := ParseConfig([]byte("outputs:\n  - name: "+name+"\n    type: webhook\n    url: "+url+
		"\n    secret_env: FW_SECRET\n    timeout: 2s\n"+extra), func(k string) (string, bool) {
		if k == "FW_SECRET" {
			return testSecret, true
		}
		return "", false
	})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestWebhookReceiverGoesDownAndComesBack: the receiver answers 503 for a
// while, then refuses connections, then comes back: every event arrives,
// signed, and none is delivered again once acknowledged.
func TestWebhookReceiverGoesDownAndComesBack(t *testing.T) {
	r := newReceiver(t)
	st := openStore(t, t.TempDir())
	defer st.Close()
	log := newFakeLog()
	var delivered, failed atomic.Int64
	o := startOutbox(t, webhookConfig(t, "secops", r.url(), "    max_attempts: 1000\n"), log, st, Options{
		Observe: func(sink, typ, outcome string, _ time.Duration) {
			if sink != "secops" || typ != TypeWebhook {
				t.Errorf("observed %s/%s", sink, typ)
			}
			switch outcome {
			case OutcomeDelivered:
				delivered.Add(1)
			case OutcomeFailed:
				failed.Add(1)
			}
		}})
	const n = 60
	for i := 0; i < 20; i++ {
		log.add("device", "opened", 0.7)
	}
	waitFor(t, "the first 20 events", 10*time.Second, func() bool { return r.ackedCount() == 20 })
	r.setMode("503")
	for i := 20; i < 35; i++ {
		log.add("farm", "evidence_changed", 0.8)
	}
	waitFor(t, "failed attempts while the receiver answers 503", 10*time.Second, func() bool { return failed.Load() >= 3 })
	r.down() // still answering 503 should a request already read finish now
	time.Sleep(20 * time.Millisecond)
	for i := 35; i < 50; i++ {
		log.add("device", "review_crossed", 0.9)
	}
	hits := r.hits.Load()
	waitFor(t, "failed attempts while the receiver refuses connections", 10*time.Second, func() bool { return failed.Load() >= 8 })
	if r.hits.Load() != hits {
		t.Fatalf("the receiver was hit while down")
	}
	sinks, err := o.Sinks("secops")
	if err != nil {
		t.Fatal(err)
	}
	if s := sinks[0]; s.GetCursor() != 20 || s.GetLastEventId() != 50 || s.GetAttempts() == 0 || s.GetLastError() == "" {
		t.Errorf("status while down: %v", s)
	}
	r.setMode("up")
	r.up()
	for i := 50; i < n; i++ {
		log.add("device", "acknowledged", 0.9)
	}
	waitFor(t, "every event after the receiver came back", 20*time.Second, func() bool { return r.ackedCount() == n })
	time.Sleep(50 * time.Millisecond)
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := uint64(1); i <= n; i++ {
		id := WebhookID(&pb.AlertEvent{Id: i})
		if r.acked[id] != 1 {
			t.Errorf("%s acknowledged %d times, want once", id, r.acked[id])
		}
	}
	if r.badSigs != 0 {
		t.Errorf("%d requests with a bad signature", r.badSigs)
	}
	if delivered.Load() != n {
		t.Errorf("observed %d deliveries, want %d", delivered.Load(), n)
	}
	body := string(r.bodies["evt_42"])
	for _, want := range []string{`"id":"42"`, `"type":"review_crossed"`, `"alert":{`, `"kind":"device"`} {
		if !strings.Contains(body, want) {
			t.Errorf("body of evt_42 lacks %s: %s", want, body)
		}
	}
}

// TestDeadLettersAndRetry: past max_attempts an event goes to the dead
// letters and the output moves on; retry delivers it again once the
// receiver is back, and the dead letter is gone.
func TestDeadLettersAndRetry(t *testing.T) {
	r := newReceiver(t)
	r.setMode("503")
	dir := t.TempDir()
	st := openStore(t, dir)
	log := newFakeLog()
	var dead atomic.Int64
	o := startOutbox(t, webhookConfig(t, "secops", r.url(), "    max_attempts: 3\n"), log, st, Options{
		Observe: func(_, _, outcome string, _ time.Duration) {
			if outcome == OutcomeDead {
				dead.Add(1)
			}
		}})
	for i := 0; i < 4; i++ {
		log.add("farm", "opened", 0.9)
	}
	waitFor(t, "four dead letters", 10*time.Second, func() bool { return dead.Load() == 4 })
	ds, err := o.DeadLetters("secops")
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 4 {
		t.Fatalf("%d dead letters, want 4", len(ds))
	}
	for i, d := range ds {
		if d.GetEventId() != uint64(i+1) || d.GetAttempts() != 3 || !strings.Contains(d.GetLastError(), "503") ||
			d.GetAlertId() == "" || d.GetEventType() != "opened" || d.GetDeadAt() == nil || d.GetFirstAttempt() == nil {
			t.Errorf("dead letter %d: %v", i, d)
		}
	}
	if hits := r.hits.Load(); hits != 12 {
		t.Errorf("%d attempts, want 12 (3 for each of 4 events)", hits)
	}
	sinks, _ := o.Sinks("")
	if s := sinks[0]; s.GetCursor() != 4 || s.GetDeadLetters() != 4 {
		t.Errorf("status: %v", s)
	}
	if _, err := o.Retry("nope", nil, true, nil); !errors.Is(err, ErrUnknownOutput) {
		t.Errorf("retry of an unknown output: %v", err)
	}
	if _, err := o.Retry("secops", []uint64{9}, false, nil); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("retry of an event with no dead letter: %v", err)
	}
	r.setMode("up")
	if n, err := o.Retry("secops", []uint64{2}, false, nil); err != nil || n != 1 {
		t.Fatalf("retry 2: %d %v", n, err)
	}
	waitFor(t, "event 2 delivered on retry", 10*time.Second, func() bool { return r.ackedCount() == 1 })
	waitFor(t, "its dead letter gone", 5*time.Second, func() bool { ds, _ := o.DeadLetters("secops"); return len(ds) == 3 })
	// The rest are requeued, then the outbox stops before delivering: the
	// requeue survives a restart.
	r.setMode("503")
	if n, err := o.Retry("secops", nil, true, nil); err != nil || n != 3 {
		t.Fatalf("retry all: %d %v", n, err)
	}
	o.Stop()
	st.Close()
	r.setMode("up")
	st = openStore(t, dir)
	defer st.Close()
	o = startOutbox(t, webhookConfig(t, "secops", r.url(), "    max_attempts: 3\n"), log, st, Options{})
	waitFor(t, "the requeued letters delivered after a restart", 10*time.Second, func() bool { return r.ackedCount() == 4 })
	waitFor(t, "no dead letters left", 5*time.Second, func() bool { ds, _ := o.DeadLetters("secops"); return len(ds) == 0 })
	r.mu.Lock()
	for id, n := range r.acked {
		if n != 1 {
			t.Errorf("%s acknowledged %d times", id, n)
		}
	}
	r.mu.Unlock()
}

// TestRestartResumesFromCursor: an output restarted on the same bbolt file
// resumes after the last event it delivered, and a new output starts at
// the newest event rather than replaying the log.
func TestRestartResumesFromCursor(t *testing.T) {
	r := newReceiver(t)
	dir := t.TempDir()
	log := newFakeLog()
	for i := 0; i < 5; i++ {
		log.add("device", "opened", 0.6) // history before the output existed
	}
	st := openStore(t, dir)
	o := startOutbox(t, webhookConfig(t, "secops", r.url(), ""), log, st, Options{})
	for i := 0; i < 5; i++ {
		log.add("device", "opened", 0.6)
	}
	waitFor(t, "events 6-10", 10*time.Second, func() bool { return r.ackedCount() == 5 })
	o.Stop()
	st.Close()
	for i := 0; i < 5; i++ {
		log.add("device", "opened", 0.6) // while the collector is down
	}
	st = openStore(t, dir)
	defer st.Close()
	startOutbox(t, webhookConfig(t, "secops", r.url(), ""), log, st, Options{})
	waitFor(t, "events 11-15", 10*time.Second, func() bool { return r.ackedCount() == 10 })
	time.Sleep(50 * time.Millisecond)
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := uint64(1); i <= 15; i++ {
		id := WebhookID(&pb.AlertEvent{Id: i})
		want := 1
		if i <= 5 {
			want = 0
		}
		if r.acked[id] != want {
			t.Errorf("%s delivered %d times, want %d", id, r.acked[id], want)
		}
	}
}

// TestFiltersAdvanceTheCursor: events outside an output's filters are
// skipped, and the cursor moves past them.
func TestFiltersAdvanceTheCursor(t *testing.T) {
	r := newReceiver(t)
	st := openStore(t, t.TempDir())
	defer st.Close()
	log := newFakeLog()
	o := startOutbox(t, webhookConfig(t, "farms", r.url(), "    kinds: [farm]\n    min_score: 0.5\n    events: [opened, review_crossed]\n"), log, st, Options{})
	log.add("device", "opened", 0.9)          // 1 kind
	log.add("farm", "opened", 0.4)            // 2 score
	log.add("farm", "acknowledged", 0.9)      // 3 event type
	want := log.add("farm", "opened", 0.9)    // 4
	log.add("farm", "review_crossed", 0.7)    // 5
	log.add("applicant", "review_crossed", 1) // 6 kind
	waitFor(t, "two farm events", 10*time.Second, func() bool { return r.ackedCount() == 2 })
	waitFor(t, "the cursor past the skipped event 6", 5*time.Second, func() bool {
		s, _ := o.Sinks("farms")
		return s[0].GetCursor() == 6
	})
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.acked[WebhookID(want)] != 1 || r.acked["evt_5"] != 1 {
		t.Errorf("delivered %v, want evt_4 and evt_5", r.acked)
	}
	var c uint64
	st.View(func(tx *store.Tx) error { c, _ = tx.SinkCursor("farms"); return nil })
	if c != 6 {
		t.Errorf("persisted cursor %d, want 6", c)
	}
}

// hungServer accepts connections and never answers.
func hungServer(t testing.TB) string {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			go io.Copy(io.Discard, c)
		}
	}()
	t.Cleanup(func() {
		lis.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	return "http://" + lis.Addr().String() + "/hook"
}

// TestHungReceiverBlocksNothingElse: one receiver accepts and never
// answers; another output gets every event meanwhile, and Stop returns
// at once with a delivery hung in flight.
func TestHungReceiverBlocksNothingElse(t *testing.T) {
	r := newReceiver(t)
	st := openStore(t, t.TempDir())
	defer st.Close()
	log := newFakeLog()
	t.Setenv("FW_SECRET", testSecret)
	cfg, err := ParseConfig([]byte(`outputs:
  - name: hung
    type: webhook
    url: `+hungServer(t)+`
    secret_env: FW_SECRET
    timeout: 1h
  - name: good
    type: webhook
    url: `+r.url()+`
    secret_env: FW_SECRET
`), func(string) (string, bool) { return testSecret, true })
	if err != nil {
		t.Fatal(err)
	}
	o := startOutbox(t, cfg, log, st, Options{})
	start := time.Now()
	for i := 0; i < 50; i++ {
		log.add("device", "opened", 0.7)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("writing 50 events took %s beside a hung output", d)
	}
	waitFor(t, "the good output to get every event", 10*time.Second, func() bool { return r.ackedCount() == 50 })
	s, _ := o.Sinks("hung")
	if s[0].GetCursor() != 0 {
		t.Errorf("hung output cursor %d, want 0", s[0].GetCursor())
	}
	done := make(chan struct{})
	go func() { o.Stop(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Stop hangs behind a hung receiver")
	}
}

// TestTestSendsOnce: Test sends a signed test event outside the queue and
// reports the receiver's answer.
func TestTestSendsOnce(t *testing.T) {
	r := newReceiver(t)
	st := openStore(t, t.TempDir())
	defer st.Close()
	o := startOutbox(t, webhookConfig(t, "secops", r.url(), ""), newFakeLog(), st, Options{})
	resp, err := o.Test(context.Background(), "secops")
	if err != nil || resp.GetError() != "" || resp.GetHttpStatus() != http.StatusNoContent {
		t.Fatalf("test: %v %v", resp, err)
	}
	r.setMode("503")
	resp, _ = o.Test(context.Background(), "secops")
	if resp.GetHttpStatus() != 503 || !strings.Contains(resp.GetError(), "503") {
		t.Errorf("test against a 503: %v", resp)
	}
	if _, err := o.Test(context.Background(), "other"); !errors.Is(err, ErrUnknownOutput) {
		t.Errorf("unknown output: %v", err)
	}
	s, _ := o.Sinks("secops")
	if s[0].GetCursor() != 0 {
		t.Errorf("a test moved the cursor")
	}
}
