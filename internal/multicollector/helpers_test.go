package multicollector_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/farmwatch/farmwatch/agent/collect"
	"github.com/farmwatch/farmwatch/agent/reporter"
	"github.com/farmwatch/farmwatch/agent/spool"
	"github.com/farmwatch/farmwatch/agent/uplink"
	"github.com/farmwatch/farmwatch/collector/pki"
	"github.com/farmwatch/farmwatch/collector/server"
	"github.com/farmwatch/farmwatch/internal/pgtest"
	"github.com/farmwatch/farmwatch/internal/testcollector"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// caFiles are the CA every collector of a test loads (--ca-cert, --ca-key),
// as the collectors behind one balancer share theirs.
type caFiles struct{ cert, key string }

func newCA(t *testing.T) caFiles {
	t.Helper()
	dir := t.TempDir()
	if _, _, err := pki.LoadOrCreateCA(dir); err != nil {
		t.Fatal(err)
	}
	return caFiles{filepath.Join(dir, pki.CAFile), filepath.Join(dir, pki.CAKeyFile)}
}

// collectorConfig points a collector at the shared store and CA. Agents
// here deliver as fast as they can, so neither the per-device call rate
// nor the daily budget is in the way.
func collectorConfig(url string, ca caFiles) func(*server.Config) {
	return func(cfg *server.Config) {
		cfg.StoreURL = url
		cfg.CACert, cfg.CAKey = ca.cert, ca.key
		cfg.RateLimits = server.DefaultRateLimits()
		cfg.RateLimits.DeviceRate, cfg.RateLimits.DeviceBurst = 1e6, 1e6
		cfg.DeviceDailyBudget = -1
	}
}

func startCollector(t *testing.T, url string, ca caFiles) *testcollector.Collector {
	t.Helper()
	return testcollector.Start(t, collectorConfig(url, ca))
}

// reportKey names a report the way the store dedupes it: the agent's spool
// generation (epoch) and the seq within it.
type reportKey struct{ epoch, seq uint64 }

// ackSpool is an agent's real spool that notes each report it took and
// each acknowledgement it received.
type ackSpool struct {
	*spool.Spool
	mu    sync.Mutex
	epoch map[uint64]uint64 // seq -> epoch it was spooled with
	acked map[reportKey]int // times acknowledged
}

func (s *ackSpool) Add(r *pb.Report) error {
	if err := s.Spool.Add(r); err != nil {
		return err
	}
	s.mu.Lock()
	s.epoch[r.GetSeq()] = r.GetSpoolEpoch()
	s.mu.Unlock()
	return nil
}

func (s *ackSpool) Ack(seqs []uint64) error {
	if err := s.Spool.Ack(seqs); err != nil {
		return err
	}
	s.mu.Lock()
	for _, q := range seqs {
		s.acked[reportKey{s.epoch[q], q}]++
	}
	s.mu.Unlock()
	return nil
}

func (s *ackSpool) ackedCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.acked)
}

// agent is one enrolled device running the real agent's delivery path:
// spool, reporter and an uplink that knows every collector.
type agent struct {
	id     *uplink.Identity
	sp     *ackSpool
	conn   *uplink.Conn
	r      *reporter.Reporter
	tmpl   *pb.Report
	failed atomic.Int64 // deliveries that ended in an error
	// ackedOn counts the reports acknowledged while each collector was the
	// agent's current one.
	mu      sync.Mutex
	ackedOn map[string]int
}

// enrollAgents adds n hires and tokens through admin (one collector's) and
// enrolls agent i with the collector at addrs[i%len(addrs)] (a token made on
// one collector used on another), then gives each agent every collector,
// its enrolling one first.
func enrollAgents(t *testing.T, admin pb.AdminServiceClient, addrs []string, n int) []*agent {
	t.Helper()
	ctx := context.Background()
	hires := make([]*pb.Hire, n)
	for i := range hires {
		hires[i] = &pb.Hire{Id: fmt.Sprintf("h%03d", i), Name: fmt.Sprintf("Hire %d", i), ClaimedHome: "Denver, CO, US"}
	}
	if _, err := admin.AddHires(ctx, &pb.AddHiresRequest{Hires: hires}); err != nil {
		t.Fatal(err)
	}
	tmpl := collect.Collect(ctx, collect.HostEnv(), collect.Options{})
	discard := slog.New(slog.NewTextHandler(io.Discard, nil))
	agents := make([]*agent, n)
	for i := range agents {
		tok, err := admin.CreateToken(ctx, &pb.CreateTokenRequest{HireId: hires[i].GetId()})
		if err != nil {
			t.Fatal(err)
		}
		pref := addrs[i%len(addrs)]
		id, _, err := uplink.Enroll(ctx, uplink.EnrollOptions{Collector: pref, Token: tok.GetToken(), Hostname: fmt.Sprintf("laptop-%d", i)})
		if err != nil {
			t.Fatalf("enroll agent %d with %s: %v", i, pref, err)
		}
		id.Collectors = []string{pref}
		for _, a := range addrs {
			if a != pref {
				id.Collectors = append(id.Collectors, a)
			}
		}
		sp, err := spool.Open(filepath.Join(t.TempDir(), "spool.db"), 100000)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { sp.Close() })
		conn, err := uplink.Dial(id)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		// A killed collector stays down in these tests: no return to it.
		conn.ReturnInterval = time.Hour
		conn.CallTimeout = 5 * time.Second
		conn.Log = discard
		as := &ackSpool{Spool: sp, epoch: map[uint64]uint64{}, acked: map[reportKey]int{}}
		r := &reporter.Reporter{Spool: as, Conn: conn, Env: collect.HostEnv(), Interval: time.Minute, Batch: 50, Log: discard}
		if err := r.Start(); err != nil {
			t.Fatal(err)
		}
		agents[i] = &agent{id: id, sp: as, conn: conn, r: r, tmpl: tmpl, ackedOn: map[string]int{}}
	}
	return agents
}

// run spools reports (a copy of one real collection, stamped now) and
// delivers them, as fast as the collectors take them, until stop closes.
// While deliveries fail the spool holds at most maxPending, so nothing is
// trimmed from it.
func (a *agent) run(stop <-chan struct{}) {
	const perRound, maxPending = 10, 2000
	for {
		select {
		case <-stop:
			return
		default:
		}
		if st, err := a.sp.Stats(); err == nil && st.Pending < maxPending {
			for range perRound {
				rep := proto.Clone(a.tmpl).(*pb.Report)
				rep.CollectedAt = timestamppb.Now()
				if err := a.sp.Add(rep); err != nil {
					a.failed.Add(1)
				}
			}
		}
		before := a.sp.ackedCount()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := a.r.Flush(ctx)
		cancel()
		cur := a.conn.Current()
		a.mu.Lock()
		a.ackedOn[cur] += a.sp.ackedCount() - before
		a.mu.Unlock()
		if err != nil {
			a.failed.Add(1)
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// load runs every agent until stop() is called, which waits for them.
func load(agents []*agent) (stop func()) {
	ch := make(chan struct{})
	var wg sync.WaitGroup
	for _, a := range agents {
		wg.Add(1)
		go func() { defer wg.Done(); a.run(ch) }()
	}
	return func() { close(ch); wg.Wait() }
}

func totalAcked(agents []*agent) int {
	n := 0
	for _, a := range agents {
		n += a.sp.ackedCount()
	}
	return n
}

// waitFor polls cond every 20ms up to limit, failing the test past it.
func waitFor(t *testing.T, what string, limit time.Duration, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > limit {
			t.Fatalf("%s: not within %s", what, limit)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return time.Since(start)
}

// drain delivers what every spool still holds and checks it is empty.
func drain(t *testing.T, agents []*agent) {
	t.Helper()
	for i, a := range agents {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		err := a.r.Flush(ctx)
		cancel()
		if err != nil {
			t.Fatalf("agent %d: final delivery: %v", i, err)
		}
		if st, err := a.sp.Stats(); err != nil || st.Pending != 0 {
			t.Fatalf("agent %d: %d reports left in the spool (%v)", i, st.Pending, err)
		}
	}
}

// checkStoredOnce compares every agent's acknowledged reports with the
// shared store read through admin: each stored exactly once, nothing stored
// that was not acknowledged. It returns the reports stored.
func checkStoredOnce(t *testing.T, admin pb.AdminServiceClient, agents []*agent) int {
	t.Helper()
	stored, lost, dup, extra, ackedTwice := 0, 0, 0, 0, 0
	for i, a := range agents {
		rs, err := admin.ListReports(context.Background(), &pb.ListReportsRequest{DeviceId: a.id.DeviceID, Limit: 10000})
		if err != nil {
			t.Fatal(err)
		}
		inStore := map[reportKey]int{}
		for _, r := range rs.GetReports() {
			inStore[reportKey{r.GetReport().GetSpoolEpoch(), r.GetReport().GetSeq()}]++
		}
		stored += len(rs.GetReports())
		a.sp.mu.Lock()
		for k, n := range a.sp.acked {
			if n > 1 {
				ackedTwice++
			}
			switch inStore[k] {
			case 0:
				lost++
				t.Errorf("agent %d: report epoch %x seq %d was acknowledged but is not stored", i, k.epoch, k.seq)
			case 1:
			default:
				dup++
				t.Errorf("agent %d: report epoch %x seq %d is stored %d times", i, k.epoch, k.seq, inStore[k])
			}
		}
		for k := range inStore {
			if a.sp.acked[k] == 0 {
				extra++
				t.Errorf("agent %d: report epoch %x seq %d is stored but was never acknowledged", i, k.epoch, k.seq)
			}
		}
		a.sp.mu.Unlock()
	}
	t.Logf("shared store: %d reports stored; %d acknowledged reports lost, %d duplicated, %d stored unacknowledged, %d acknowledged twice",
		stored, lost, dup, extra, ackedTwice)
	return stored
}
