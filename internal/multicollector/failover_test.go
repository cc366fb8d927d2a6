package multicollector_test

import (
	"testing"
	"time"

	"github.com/farmwatch/farmwatch/internal/pgtest"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
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
	var retriesA int64
	r := killUnderLoad(t, agents, a.Addr(), b.Addr(), b.Admin, func() {
		a.Kill()
		retriesA = a.Store().Retries()
	})
	t.Logf("%d agents, %s: %d reports acknowledged (%d by A in %s before its kill, %d by B), %d at the kill; %d deliveries failed; serialization retries: A %d, B %d",
		len(agents), r.took, r.acked, r.ackedOn[a.Addr()], r.killedAfter, r.ackedOn[b.Addr()],
		r.atKill, r.failed, retriesA, b.Store().Retries())
}

// failoverRun is what one kill under load saw.
type failoverRun struct {
	took, killedAfter time.Duration
	acked, atKill     int
	failed            int64
	ackedOn           map[string]int
}

// killUnderLoad runs agents preferring A or B until 2,000 reports are
// acknowledged, some by A; kill then stops A. Every agent must be
// delivering to B within a minute, and the run goes on to 5,000 reports and
// 1,500 past the kill. Then the agents drain their spools, and every report
// acknowledged must be stored exactly once (read through B's admin API).
func killUnderLoad(t *testing.T, agents []*agent, addrA, addrB string, adminB pb.AdminServiceClient, kill func()) failoverRun {
	t.Helper()
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
		onA += ag.ackedOn[addrA]
		ag.mu.Unlock()
	}
	if onA == 0 {
		t.Fatal("no report was acknowledged by A before it was killed")
	}
	kill()
	r := failoverRun{killedAfter: time.Since(start).Round(time.Millisecond), atKill: totalAcked(agents)}
	// Every agent that preferred A is on B and delivering within seconds.
	for i, ag := range agents {
		before := ag.sp.ackedCount()
		took := waitFor(t, "an agent's first delivery after the kill", time.Minute, func() bool {
			return ag.conn.Current() == addrB && ag.sp.ackedCount() > before
		})
		if i%2 == 0 {
			t.Logf("agent %d (preferred A): delivering to B %s after A was killed", i, took.Round(time.Millisecond))
		}
	}
	waitFor(t, "5,000 reports acknowledged", 3*time.Minute, func() bool {
		return totalAcked(agents) >= 5000 && totalAcked(agents) >= r.atKill+1500
	})
	stop()
	stopped = true
	r.took = time.Since(start).Round(time.Millisecond)
	drain(t, agents)

	r.acked, r.failed = totalAcked(agents), failures(agents)
	r.ackedOn = map[string]int{}
	for _, ag := range agents {
		for c, n := range ag.ackedOn {
			r.ackedOn[c] += n
		}
	}
	if stored := checkStoredOnce(t, adminB, agents); stored != r.acked {
		t.Errorf("%d reports stored, %d acknowledged", stored, r.acked)
	}
	return r
}
