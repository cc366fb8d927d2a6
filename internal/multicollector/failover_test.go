package multicollector_test

import (
	"testing"
	"time"

	"github.com/farmwatch/farmwatch/internal/pgtest"
)

// Agents deliver to two collectors on one PostgreSQL store, half of them
// preferring each; collector A is killed in the middle of their deliveries
// (its connections cut with calls in flight, whose batches may commit
// without their answer reaching the agent) and they go on with B. Every
// report an agent saw acknowledged is in the shared store exactly once, by
// device, spool generation and seq, and every spool ends empty.
func TestKillOneCollectorUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("a load test")
	}
	url := pgtest.Shared(t).NewDatabase(t)
	ca := newCA(t)
	a, b := startCollector(t, url, ca), startCollector(t, url, ca)
	agents := enrollAgents(t, a.Admin, []string{a.Addr(), b.Addr()}, 8)

	start := time.Now()
	stop := load(agents)
	stopped := false
	defer func() {
		if !stopped {
			stop()
		}
	}()
	waitFor(t, "2,000 reports acknowledged", 3*time.Minute, func() bool { return totalAcked(agents) >= 2000 })
	onA := 0
	for _, ag := range agents {
		ag.mu.Lock()
		onA += ag.ackedOn[a.Addr()]
		ag.mu.Unlock()
	}
	if onA == 0 {
		t.Fatal("no report was acknowledged by A before it was killed")
	}
	a.Kill()
	killedAt := time.Now()
	atKill := totalAcked(agents)
	retriesA := a.Store().Retries()
	// Every agent that preferred A is on B and delivering within seconds.
	for i, ag := range agents {
		before := ag.sp.ackedCount()
		took := waitFor(t, "an agent's first delivery after the kill", time.Minute, func() bool {
			return ag.conn.Current() == b.Addr() && ag.sp.ackedCount() > before
		})
		if i%2 == 0 {
			t.Logf("agent %d (preferred A): delivering to B %s after A was killed", i, took.Round(time.Millisecond))
		}
	}
	waitFor(t, "5,000 reports acknowledged", 3*time.Minute, func() bool {
		return totalAcked(agents) >= 5000 && totalAcked(agents) >= atKill+1500
	})
	stop()
	stopped = true
	took := time.Since(start)
	drain(t, agents)

	acked, failed := totalAcked(agents), int64(0)
	ackedOn := map[string]int{}
	for _, ag := range agents {
		failed += ag.failed.Load()
		for c, n := range ag.ackedOn {
			ackedOn[c] += n
		}
	}
	stored := checkStoredOnce(t, b.Admin, agents)
	if stored != acked {
		t.Errorf("%d reports stored, %d acknowledged", stored, acked)
	}
	t.Logf("%d agents, %s: %d reports acknowledged (%d by A in %s before its kill, %d by B), %d at the kill; %d deliveries failed; serialization retries: A %d, B %d",
		len(agents), took.Round(time.Millisecond), acked, ackedOn[a.Addr()], killedAt.Sub(start).Round(time.Millisecond), ackedOn[b.Addr()],
		atKill, failed, retriesA, b.Store().Retries())
}
