package sinks

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/farmwatch/farmwatch/collector/store"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// fakeLog is an in-memory alert event log with the store's contract: ids
// from 1 up, a signal closed at each append.
type fakeLog struct {
	mu     sync.Mutex
	events []*pb.AlertEvent
	signal chan struct{}
}

func newFakeLog() *fakeLog { return &fakeLog{signal: make(chan struct{})} }

func (l *fakeLog) AlertEvents(after uint64, limit int) ([]*pb.AlertEvent, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []*pb.AlertEvent
	for _, e := range l.events {
		if e.GetId() > after {
			out = append(out, e)
			if len(out) == limit {
				break
			}
		}
	}
	return out, nil
}

func (l *fakeLog) LastAlertEventID() (uint64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return uint64(len(l.events)), nil
}

func (l *fakeLog) AlertEventsSignal() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.signal
}

// add appends an event for an alert of the kind and score.
// edit, when given, changes the event before it is published.
func (l *fakeLog) add(kind, typ string, score float64, edit ...func(*pb.AlertEvent)) *pb.AlertEvent {
	l.mu.Lock()
	defer l.mu.Unlock()
	id := uint64(len(l.events) + 1)
	now := time.Now()
	ev := &pb.AlertEvent{Id: id, Type: typ, At: timestamppb.New(now), Alert: &pb.Alert{
		Id: fmt.Sprintf("al-%d", id), Kind: kind, Status: "open", Score: score, PeakScore: score,
		DeviceId: "dev-" + fmt.Sprint(id%7), HireId: "hire-" + fmt.Sprint(id%7),
		Summary: fmt.Sprintf("laptop dev-%d is 8,000 km from its claimed home", id%7), CreatedAt: timestamppb.New(now)}}
	for _, f := range edit {
		f(ev)
	}
	l.events = append(l.events, ev)
	close(l.signal)
	l.signal = make(chan struct{})
	return ev
}

func openStore(t testing.TB, dir string) *store.Store {
	t.Helper()
	st, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func startOutbox(t testing.TB, cfg *Config, log EventLog, st *store.Store, opts Options) *Outbox {
	t.Helper()
	opts.Log, opts.Store = log, st
	if opts.BackoffBase == 0 {
		opts.BackoffBase, opts.BackoffCap = time.Millisecond, 20*time.Millisecond
	}
	o, err := NewOutbox(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := o.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(o.Stop)
	return o
}

func waitFor(t testing.TB, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

const testSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

func mustParse(t testing.TB, yml string) *Config {
	t.Helper()
	cfg, err := ParseConfig([]byte(yml), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}
