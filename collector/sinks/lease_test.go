package sinks

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/farmwatch/farmwatch/collector/store"
	"github.com/farmwatch/farmwatch/internal/pgtest"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// openShared opens a store on the PostgreSQL database url, as one of the
// collectors sharing it.
func openShared(t *testing.T, url string) *store.Store {
	t.Helper()
	st, err := store.OpenPostgres(context.Background(), url, store.Options{EventPoll: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// openAlerts commits n "opened" events through st, numbered from first.
func openAlerts(t *testing.T, st *store.Store, first, n int) {
	t.Helper()
	for i := first; i < first+n; i++ {
		err := st.Update(func(tx *store.Tx) error {
			id := fmt.Sprintf("A-%06d", i)
			return tx.PutAlert("d-"+id, &pb.Alert{Id: id, Kind: "device", DeviceId: "d-" + id, Status: "open", Score: 0.9, PeakScore: 0.9})
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

func leaseHolder(t *testing.T, st *store.Store, name string) string {
	t.Helper()
	var h string
	if err := st.View(func(tx *store.Tx) error { h, _ = tx.SinkLease(name); return nil }); err != nil {
		t.Fatal(err)
	}
	return h
}

// Two collectors on one PostgreSQL store run the same output: the one
// holding its lease delivers every event, whichever collector committed it,
// and each reaches the receiver once. When the holder dies without giving
// the lease up, the other takes the output over once the lease expires and
// goes on from the recorded cursor; a holder that stops gives it up.
func TestSharedStoreOutputDeliveredOnce(t *testing.T) {
	url := pgtest.Shared(t).NewDatabase(t)
	stA, stB := openShared(t, url), openShared(t, url)
	r := newReceiver(t)
	const ttl = 600 * time.Millisecond
	obs := map[string]*Outbox{}
	for name, st := range map[string]*store.Store{"A": stA, "B": stB} {
		// An attempt's timeout below half the lease: the lease keeps its term.
		cfg, err := ParseConfig([]byte("outputs:\n  - name: secops\n    type: webhook\n    url: "+r.url()+
			"\n    secret_env: FW_SECRET\n    timeout: 250ms\n"), func(k string) (string, bool) { return testSecret, k == "FW_SECRET" })
		if err != nil {
			t.Fatal(err)
		}
		obs[name] = startOutbox(t, cfg, st, st, Options{Holder: name, LeaseTTL: ttl})
	}
	openAlerts(t, stA, 1, 5)
	openAlerts(t, stB, 6, 5)
	waitFor(t, "events 1-10", 10*time.Second, func() bool { return r.ackedCount() == 10 })
	holder := leaseHolder(t, stA, "secops")
	other := map[string]string{"A": "B", "B": "A"}[holder]
	if obs[holder] == nil {
		t.Fatalf("lease holder %q, want A or B", holder)
	}

	// The holder dies: its goroutines end, the lease stays in the store
	// until it expires.
	dead := obs[holder]
	dead.soft()
	dead.hard()
	dead.wg.Wait()
	died := time.Now()
	openAlerts(t, map[string]*store.Store{"A": stA, "B": stB}[other], 11, 5)
	waitFor(t, "events 11-15 after the holder died", 10*time.Second, func() bool { return r.ackedCount() == 15 })
	took := time.Since(died)
	if h := leaseHolder(t, stA, "secops"); h != other {
		t.Fatalf("lease held by %q after %s died, want %s", h, holder, other)
	}
	time.Sleep(3 * ttl) // room for a second delivery, were there one
	r.mu.Lock()
	for i := uint64(1); i <= 15; i++ {
		if n := r.acked[WebhookID(&pb.AlertEvent{Id: i})]; n != 1 {
			t.Errorf("event %d delivered %d times, want once", i, n)
		}
	}
	r.mu.Unlock()
	t.Logf("%s held the lease; %s delivered again %s after %s died (lease %s)", holder, other, took.Round(time.Millisecond), holder, ttl)

	// A holder that stops gives the lease up for the next collector.
	obs[other].Stop()
	if h := leaseHolder(t, stA, "secops"); h != "" {
		t.Errorf("lease held by %q after its holder stopped, want none", h)
	}
}
