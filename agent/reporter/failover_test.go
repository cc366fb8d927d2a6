package reporter

import (
	"bytes"
	"context"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/resolver/manual"

	"github.com/farmwatch/farmwatch/agent/collect"
	"github.com/farmwatch/farmwatch/agent/spool"
	"github.com/farmwatch/farmwatch/agent/uplink"
	"github.com/farmwatch/farmwatch/collector/server"
	"github.com/farmwatch/farmwatch/internal/testcollector"
	"github.com/farmwatch/farmwatch/internal/testrelay"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// twoCollectors starts collector A, enrolls a device with it, and starts
// collector B on a copy of A's data: the same CA, and the same enrolled
// device, as two collectors in front of one shared store would have.
// mutate adjusts both configs.
func twoCollectors(t *testing.T, mutate func(*server.Config)) (a, b *testcollector.Collector, id *uplink.Identity) {
	t.Helper()
	a = testcollector.Start(t, mutate)
	id = enrollHire(t, a, &pb.Hire{Id: "h1", Name: "H", ClaimedHome: "Denver, CO, US"})
	a.Stop()
	dataB := t.TempDir()
	copyDir(t, a.Data, dataB)
	a.Restart(t)
	b = testcollector.Start(t, func(cfg *server.Config) {
		if mutate != nil {
			mutate(cfg)
		}
		cfg.DataDir = dataB
	})
	return a, b, id
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(from, path)
		if err != nil {
			return err
		}
		dst := filepath.Join(to, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.MkdirAll(dst, info.Mode().Perm())
		}
		src, err := os.Open(path)
		if err != nil {
			return err
		}
		defer src.Close()
		out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, info.Mode().Perm())
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, src); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
	if err != nil {
		t.Fatal(err)
	}
}

// ackRecorder is the agent's spool, noting every seq the collector
// acknowledged.
type ackRecorder struct {
	*spool.Spool
	mu    sync.Mutex
	acked map[uint64]bool
}

func (a *ackRecorder) Ack(seqs []uint64) error {
	if err := a.Spool.Ack(seqs); err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.acked == nil {
		a.acked = map[uint64]bool{}
	}
	for _, s := range seqs {
		a.acked[s] = true
	}
	return nil
}

func (a *ackRecorder) ackedSeqs() map[uint64]bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	m := map[uint64]bool{}
	for s := range a.acked {
		m[s] = true
	}
	return m
}

// storedSeqs are the seqs of the device's reports in a collector's store;
// it fails the test when one is stored twice.
func storedSeqs(t *testing.T, c *testcollector.Collector, device string) map[uint64]bool {
	t.Helper()
	rs, err := c.Admin.ListReports(context.Background(), &pb.ListReportsRequest{DeviceId: device, Limit: 10000})
	if err != nil {
		t.Fatal(err)
	}
	m := map[uint64]bool{}
	for _, r := range rs.GetReports() {
		s := r.GetReport().GetSeq()
		if m[s] {
			t.Errorf("seq %d stored twice in %s", s, c.Data)
		}
		m[s] = true
	}
	return m
}

// syncBuffer is a log sink for a logger used from several goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) count(substr string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Count(s.b.String(), substr)
}

// An agent given collectors A and B delivers to A; when A is killed in the
// middle of its deliveries it goes on with B, and every report it saw
// acknowledged is in A's store or B's, none twice in either. While A is
// down the agent checks it at most once per return interval; once A is
// back the agent returns to it within that interval.
func TestFailoverToNextCollectorAndBack(t *testing.T) {
	a, b, id := twoCollectors(t, nil)
	id.Collectors = []string{a.Addr(), b.Addr()}
	sp, err := spool.Open(filepath.Join(t.TempDir(), "spool.db"), 1000)
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	rec := &ackRecorder{Spool: sp}
	conn, err := uplink.Dial(id)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	const returnInterval = 2 * time.Second
	conn.ReturnInterval = returnInterval
	conn.CallTimeout = 10 * time.Second
	logs := &syncBuffer{}
	conn.Log = slog.New(slog.NewTextHandler(logs, nil))
	r := &Reporter{Spool: rec, Conn: conn, Env: collect.HostEnv(), Interval: time.Minute,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if err := r.Start(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for range 3 {
		if err := r.Cycle(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if got := conn.Current(); got != a.Addr() {
		t.Fatalf("current collector %s, want the preferred %s", got, a.Addr())
	}

	// The agent keeps reporting, as fast as it can, from here on.
	stop := make(chan struct{})
	var cycles, failed int
	loopDone := make(chan struct{})
	go func() {
		defer close(loopDone)
		for {
			select {
			case <-stop:
				return
			default:
			}
			cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
			if r.Cycle(cctx) != nil {
				failed++
			}
			cancel()
			cycles++
			time.Sleep(50 * time.Millisecond)
		}
	}()
	waitFor := func(what string, limit time.Duration, cond func() bool) time.Duration {
		t.Helper()
		start := time.Now()
		for !cond() {
			if time.Since(start) > limit {
				close(stop)
				<-loopDone
				t.Fatalf("%s: not within %s", what, limit)
			}
			time.Sleep(20 * time.Millisecond)
		}
		return time.Since(start)
	}
	before := len(rec.ackedSeqs())
	waitFor("deliveries to A", 30*time.Second, func() bool { return len(rec.ackedSeqs()) >= before+3 })

	a.Kill()
	killedAt := time.Now()
	atKill := len(rec.ackedSeqs())
	took := waitFor("failover to B", 30*time.Second, func() bool { return conn.Current() == b.Addr() })
	t.Logf("on B %s after A was killed", took.Round(time.Millisecond))
	waitFor("deliveries to B", 30*time.Second, func() bool { return len(rec.ackedSeqs()) >= atKill+3 })
	// Stay on B for a few return intervals with A down: A is checked at
	// most once an interval (20% jitter), and not left alone either.
	for time.Since(killedAt) < 3*returnInterval {
		time.Sleep(50 * time.Millisecond)
	}
	checks := logs.count("preferred collector still unreachable")
	down := time.Since(killedAt)
	if most := int(down/(returnInterval*8/10)) + 1; checks < 1 || checks > most {
		t.Errorf("A checked %d times in %s with a return interval of %s, want 1 to %d", checks, down.Round(time.Millisecond), returnInterval, most)
	}
	if got := conn.Current(); got != b.Addr() {
		t.Fatalf("current collector %s while A is down, want %s", got, b.Addr())
	}

	a.Restart(t)
	took = waitFor("return to A", 2*returnInterval, func() bool { return conn.Current() == a.Addr() })
	t.Logf("back on A %s after it restarted (return interval %s)", took.Round(time.Millisecond), returnInterval)
	atReturn := len(rec.ackedSeqs())
	waitFor("deliveries to A after its return", 30*time.Second, func() bool { return len(rec.ackedSeqs()) >= atReturn+3 })
	close(stop)
	<-loopDone

	fctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := r.Flush(fctx); err != nil {
		t.Fatal(err)
	}
	if st, _ := sp.Stats(); st.Pending != 0 {
		t.Fatalf("%d reports left in the spool", st.Pending)
	}
	acked := rec.ackedSeqs()
	inA, inB := storedSeqs(t, a, id.DeviceID), storedSeqs(t, b, id.DeviceID)
	for s := range acked {
		if !inA[s] && !inB[s] {
			t.Errorf("seq %d was acknowledged but is in neither store", s)
		}
	}
	if len(inB) == 0 {
		t.Error("B stored nothing")
	}
	t.Logf("%d cycles while A was killed and restarted (%d failed), %d reports acknowledged: %d in A's store, %d in B's",
		cycles, failed, len(acked), len(inA), len(inB))
	if n := logs.count("collector reachable again"); n != 1 {
		t.Errorf("returned to A %d times, want once", n)
	}
}

// One collector name with two addresses: the agent fails over between them
// through gRPC's resolver and pick_first balancer, and each address is
// verified against the name, not the address; a name the collectors'
// certificate does not carry is refused.
func TestNameWithTwoAddresses(t *testing.T) {
	const name = "collectors.farmwatch.test"
	a, b, id := twoCollectors(t, func(cfg *server.Config) { cfg.TLSHosts = []string{name} })
	// The name resolves, for this test only, to A's address then B's.
	rb := manual.NewBuilderWithScheme("fwtest")
	rb.InitialState(resolver.State{Addresses: []resolver.Address{{Addr: a.Addr()}, {Addr: b.Addr()}}})
	sp, err := spool.Open(filepath.Join(t.TempDir(), "spool.db"), 100)
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	id.Collector, id.Collectors = "fwtest:///"+name+":7443", nil
	conn, err := uplink.Dial(id, grpc.WithResolvers(rb))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.CallTimeout = 10 * time.Second
	r := &Reporter{Spool: sp, Conn: conn, Env: collect.HostEnv(), Interval: time.Minute}
	if err := r.Start(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := r.Cycle(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(storedSeqs(t, a, id.DeviceID)); n != 1 {
		t.Fatalf("A stored %d reports, want the first", n)
	}

	a.Kill()
	// The call in flight when the connection broke may fail; the next goes
	// to B.
	deadline := time.Now().Add(30 * time.Second)
	for {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := r.Cycle(cctx)
		cancel()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no delivery to the name's second address: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if st, _ := sp.Stats(); st.Pending != 0 {
		t.Fatalf("%d reports left in the spool", st.Pending)
	}
	if n := len(storedSeqs(t, b, id.DeviceID)); n < 1 {
		t.Fatal("B stored nothing")
	}

	wrong := *id
	wrong.Collector = "fwtest:///other.farmwatch.test:7443"
	wconn, err := uplink.Dial(&wrong, grpc.WithResolvers(rb))
	if err != nil {
		t.Fatal(err)
	}
	defer wconn.Close()
	wconn.CallTimeout = 5 * time.Second
	_, err = wconn.Send(ctx, nil)
	if err == nil || !strings.Contains(err.Error(), "certificate is valid for") {
		t.Fatalf("a name the collector's certificate does not carry: %v, want a certificate error", err)
	}
}

// A collector whose connection goes silent (the path to it dies, nothing
// closes) is failed over when the call's deadline passes: the same cycle
// then delivers to the next collector.
func TestFailoverOnTimeout(t *testing.T) {
	a, b, id := twoCollectors(t, nil)
	path := testrelay.Start(t, a.Addr(), testrelay.Options{})
	id.Collectors = []string{path.Addr(), b.Addr()}
	sp, err := spool.Open(filepath.Join(t.TempDir(), "spool.db"), 100)
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	conn, err := uplink.Dial(id)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	const callTimeout = 2 * time.Second
	conn.CallTimeout = callTimeout
	conn.ReturnInterval = time.Hour
	r := &Reporter{Spool: sp, Conn: conn, Env: collect.HostEnv(), Interval: time.Minute}
	if err := r.Start(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := r.Cycle(ctx); err != nil {
		t.Fatal(err)
	}
	if got := conn.Current(); got != path.Addr() {
		t.Fatalf("current collector %s, want the preferred %s", got, path.Addr())
	}

	path.Stall()
	start := time.Now()
	cctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := r.Cycle(cctx); err != nil {
		t.Fatalf("cycle with the preferred collector's path dead: %v, want delivery to the next", err)
	}
	took := time.Since(start)
	if got := conn.Current(); got != b.Addr() {
		t.Fatalf("current collector %s after a timeout, want %s", got, b.Addr())
	}
	if took < callTimeout {
		t.Errorf("failed over after %s, before the call deadline of %s", took, callTimeout)
	}
	t.Logf("delivered to B %s after the preferred collector's path died (call deadline %s)", took.Round(time.Millisecond), callTimeout)
	if st, _ := sp.Stats(); st.Pending != 0 {
		t.Fatalf("%d reports left in the spool", st.Pending)
	}
	if n := len(storedSeqs(t, b, id.DeviceID)); n != 1 {
		t.Fatalf("B stored %d reports, want the second", n)
	}
}
