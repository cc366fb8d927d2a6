package multicollector_test

import (
	"testing"
	"time"

	"github.com/farmwatch/farmwatch/internal/pgtest"
)

// PostgreSQL stops under load and starts again on the same port: while it
// is down the collectors refuse reports (the agents see errors and keep
// them spooled), nothing acknowledged is lost, and delivery resumes once it
// is back, with the same collector processes.
func TestPostgresRestartUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("a load test")
	}
	pg := pgtest.Start(t)
	url := pg.NewDatabase(t)
	ca := newCA(t)
	a, b := startCollector(t, url, ca), startCollector(t, url, ca)
	agents := enrollAgents(t, a.Admin, []string{a.Addr(), b.Addr()}, 6)

	stop := load(agents)
	stopped := false
	defer func() {
		if !stopped {
			stop()
		}
	}()
	waitFor(t, "1,000 reports acknowledged", 3*time.Minute, func() bool { return totalAcked(agents) >= 1000 })
	if err := pg.Stop(); err != nil {
		t.Fatal(err)
	}
	downAt := time.Now()
	// A batch that committed just before the stop may still be on its way
	// back to its agent; after that nothing can be acknowledged.
	time.Sleep(500 * time.Millisecond)
	ackedDown, failedDown := totalAcked(agents), failures(agents)
	pendingDown := pending(t, agents)
	time.Sleep(3 * time.Second)
	if n := totalAcked(agents); n != ackedDown {
		t.Fatalf("%d reports acknowledged while PostgreSQL was down", n-ackedDown)
	}
	failedWhileDown := failures(agents) - failedDown
	if failedWhileDown == 0 {
		t.Fatal("no delivery failed while PostgreSQL was down")
	}
	spooled := pending(t, agents)
	if spooled <= pendingDown {
		t.Fatalf("the spools did not grow while PostgreSQL was down: %d, then %d", pendingDown, spooled)
	}
	if err := pg.Start(); err != nil {
		t.Fatal(err)
	}
	restartedAt := time.Now()
	resumed := waitFor(t, "deliveries after PostgreSQL restarted", 2*time.Minute, func() bool { return totalAcked(agents) > ackedDown })
	waitFor(t, "1,000 more reports acknowledged", 3*time.Minute, func() bool { return totalAcked(agents) >= ackedDown+1000 })
	stop()
	stopped = true
	drain(t, agents)

	acked := totalAcked(agents)
	stored := checkStoredOnce(t, a.Admin, agents)
	if stored != acked {
		t.Errorf("%d reports stored, %d acknowledged", stored, acked)
	}
	t.Logf("%d agents: %d acknowledged before the stop; down %s: %d deliveries failed, spools %d -> %d reports; first acknowledgement %s after the restart; %d acknowledged in all, %d stored; serialization retries: A %d, B %d",
		len(agents), ackedDown, restartedAt.Sub(downAt).Round(time.Millisecond), failedWhileDown, pendingDown, spooled,
		resumed.Round(time.Millisecond), acked, stored, a.Store().Retries(), b.Store().Retries())
}

func failures(agents []*agent) int64 {
	var n int64
	for _, a := range agents {
		n += a.failed.Load()
	}
	return n
}

func pending(t *testing.T, agents []*agent) int {
	t.Helper()
	var n int
	for _, a := range agents {
		st, err := a.sp.Stats()
		if err != nil {
			t.Fatal(err)
		}
		n += st.Pending
	}
	return n
}
