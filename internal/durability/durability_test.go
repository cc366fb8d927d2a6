// Package durability holds the collector's crash and outage tests: a real
// `farmwatch serve` process, killed with SIGKILL or stopped for a while,
// under load from agents that use the real spool and uplink.
package durability

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/farmwatch/farmwatch/agent/spool"
	"github.com/farmwatch/farmwatch/agent/uplink"
	"github.com/farmwatch/farmwatch/collector/adminconn"
	"github.com/farmwatch/farmwatch/collector/server"
	"github.com/farmwatch/farmwatch/collector/store"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

func farmwatchBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "farmwatch-durability-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "farmwatch")
		// With crash points (internal/crashpoint), which stay unarmed unless
		// a test sets them in the collector's environment.
		out, err := exec.Command("go", "build", "-tags", "crashpoint", "-o", binPath, "github.com/farmwatch/farmwatch/cmd/farmwatch").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// collector is a `farmwatch serve` child process on a fixed loopback port.
type collector struct {
	t    *testing.T
	bin  string
	data string
	addr string
	cmd  *exec.Cmd
	log  *os.File
	// env is added to the next start's environment (crash points).
	env []string
}

func startCollector(t *testing.T) *collector {
	c := &collector{t: t, bin: farmwatchBinary(t), data: t.TempDir(), addr: "127.0.0.1:0"}
	var err error
	if c.log, err = os.Create(filepath.Join(t.TempDir(), "collector.log")); err != nil {
		t.Fatal(err)
	}
	c.start()
	t.Cleanup(func() {
		if c.cmd != nil {
			c.cmd.Process.Kill()
			c.cmd.Wait()
		}
		if t.Failed() {
			b, _ := os.ReadFile(c.log.Name())
			t.Logf("collector log (tail):\n%s", tail(string(b), 40))
		}
	})
	return c
}

func (c *collector) start() {
	c.t.Helper()
	addrFile := filepath.Join(c.data, server.AddrFile)
	os.Remove(addrFile)
	c.cmd = exec.Command(c.bin, "serve", "--data", c.data, "--listen", c.addr, "--trusted-proxy", "127.0.0.1")
	c.cmd.Stdout, c.cmd.Stderr = c.log, c.log
	c.cmd.Env = append(os.Environ(), c.env...)
	if err := c.cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(addrFile); err == nil && len(b) > 0 {
			c.addr = strings.TrimSpace(string(b))
			if conn, err := net.DialTimeout("tcp", c.addr, time.Second); err == nil {
				conn.Close()
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	c.t.Fatal("collector did not start")
}

func (c *collector) signal(sig syscall.Signal) {
	c.t.Helper()
	c.cmd.Process.Signal(sig)
	c.cmd.Wait()
	c.cmd = nil
}

// agent is one laptop: the real spool and the real mutual-TLS uplink.
type agent struct {
	id    *uplink.Identity
	spool *spool.Spool
	conn  *uplink.Conn
	dups  int
	// calls counts the fleet's report calls under way and acks the reports
	// acknowledged to it, shared by every agent of a test.
	calls, acks *atomic.Int64
	mu          sync.Mutex
	acked       []uint64 // the seqs acknowledged to this agent
}

func newFleet(t *testing.T, c *collector, n int) []*agent {
	t.Helper()
	ctx := context.Background()
	admin, closeAdmin, err := adminconn.Dial(adminconn.Options{Data: c.data})
	if err != nil {
		t.Fatal(err)
	}
	defer closeAdmin()
	var hires []*pb.Hire
	for i := range n {
		hires = append(hires, &pb.Hire{Id: fmt.Sprintf("h%03d", i), Name: fmt.Sprintf("Hire %d", i), ClaimedHome: "Austin, TX, US"})
	}
	if _, err := admin.AddHires(ctx, &pb.AddHiresRequest{Hires: hires}); err != nil {
		t.Fatal(err)
	}
	agents := make([]*agent, n)
	var calls, acks atomic.Int64
	for i := range n {
		tok, err := admin.CreateToken(ctx, &pb.CreateTokenRequest{HireId: hires[i].GetId()})
		if err != nil {
			t.Fatal(err)
		}
		id, _, err := uplink.Enroll(ctx, uplink.EnrollOptions{Collector: c.addr, Token: tok.GetToken(), Hostname: fmt.Sprintf("laptop-%03d", i)})
		if err != nil {
			t.Fatal(err)
		}
		sp, err := spool.Open(filepath.Join(t.TempDir(), "spool.db"), 100000)
		if err != nil {
			t.Fatal(err)
		}
		// Reconnect quickly after each kill (the agent's default waits longer).
		conn, err := uplink.Dial(id, grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 20 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: 200 * time.Millisecond},
			MinConnectTimeout: 2 * time.Second}))
		if err != nil {
			t.Fatal(err)
		}
		agents[i] = &agent{id: id, spool: sp, conn: conn, calls: &calls, acks: &acks}
		t.Cleanup(func() { conn.Close(); sp.Close() })
	}
	return agents
}

func (a *agent) collect() error {
	return a.spool.Add(&pb.Report{CollectedAt: timestamppb.Now(), Host: &pb.Host{Hostname: "laptop", Os: "linux"},
		Network: &pb.Network{Interfaces: []*pb.Interface{{Name: "wlan0", Mac: "a4:83:e7:00:00:01", Kind: "wifi"}},
			DefaultGateway: "192.168.1.1", GatewayMac: "3c:37:86:00:00:01"}})
}

// flush delivers what is spooled, as the agent's reporter does: reports
// leave the spool only once acknowledged.
func (a *agent) flush(ctx context.Context) error {
	for {
		pending, err := a.spool.Pending(50)
		if err != nil || len(pending) == 0 {
			return err
		}
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		a.calls.Add(1)
		resp, err := a.conn.Send(cctx, pending)
		a.calls.Add(-1)
		cancel()
		if err != nil {
			return err
		}
		a.acks.Add(int64(len(resp.GetAcknowledged())))
		a.mu.Lock()
		a.acked = append(a.acked, resp.GetAcknowledged()...)
		a.mu.Unlock()
		a.dups += len(resp.GetDuplicates())
		if err := a.spool.Ack(resp.GetAcknowledged()); err != nil {
			return err
		}
	}
}

// flushUntilEmpty retries with backoff, as the reporter does across an outage.
func (a *agent) flushUntilEmpty(ctx context.Context) error {
	backoff := 20 * time.Millisecond
	for {
		err := a.flush(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last error: %v)", ctx.Err(), err)
		case <-time.After(backoff + time.Duration(rand.Int64N(int64(backoff)))):
		}
		backoff = min(2*backoff, 500*time.Millisecond)
	}
}

// checkAcknowledged reads the store of the stopped collector directly: every
// report acknowledged to an agent so far must be in it.
func checkAcknowledged(t *testing.T, c *collector, agents []*agent) (acked int) {
	t.Helper()
	st, err := store.Open(c.data, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	st.View(func(tx *store.Tx) error {
		for _, a := range agents {
			a.mu.Lock()
			seqs := slices.Clone(a.acked)
			a.mu.Unlock()
			acked += len(seqs)
			for _, q := range seqs {
				if !tx.HasReport(a.id.DeviceID, q) {
					t.Errorf("device %s: report %d was acknowledged before the kill and is not stored", a.id.DeviceID, q)
				}
			}
		}
		return nil
	})
	return acked
}

// verify stops the collector and reads its store directly: every device has
// exactly seqs 1..perAgent, and the reports bucket holds nothing more.
func verify(t *testing.T, c *collector, agents []*agent, perAgent int) (stored int) {
	t.Helper()
	c.signal(syscall.SIGTERM)
	st, err := store.Open(c.data, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	st.View(func(tx *store.Tx) error {
		stored = tx.ReportCount()
		for _, a := range agents {
			for q := uint64(1); q <= uint64(perAgent); q++ {
				if !tx.HasReport(a.id.DeviceID, q) {
					t.Errorf("device %s: acknowledged report %d is missing", a.id.DeviceID, q)
				}
			}
			if tx.HasReport(a.id.DeviceID, uint64(perAgent)+1) {
				t.Errorf("device %s: a report past %d appeared", a.id.DeviceID, perAgent)
			}
		}
		return nil
	})
	if want := len(agents) * perAgent; stored != want {
		t.Errorf("store holds %d reports, want exactly %d", stored, want)
	}
	return stored
}

// TestCrashLosesNothing: 100 agents deliver 10,000 reports while the
// collector is killed with SIGKILL and restarted: first exactly where a batch
// is written but not yet committed (a crash point), with calls waiting on
// it, then at random points. Afterwards every acknowledged report is stored
// exactly once. A collector that acknowledged a batch before committing it
// loses that batch's reports at the first kill, in every run.
func TestCrashLosesNothing(t *testing.T) {
	const agentsN, perAgent = 100, 100
	c := startCollector(t)
	agents := newFleet(t, c, agentsN)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	// Restart armed: the writer stops before committing a batch that
	// stores new reports, after passing that point a random number of times.
	reached := filepath.Join(t.TempDir(), "crashpoint-reached")
	skip := 5 + rand.IntN(30)
	c.signal(syscall.SIGTERM)
	c.env = []string{"FARMWATCH_CRASHPOINT=ingest.before-commit", fmt.Sprintf("FARMWATCH_CRASHPOINT_SKIP=%d", skip),
		"FARMWATCH_CRASHPOINT_REACHED=" + reached}
	c.start()
	c.env = nil

	var done atomic.Int32
	var wg sync.WaitGroup
	errs := make(chan error, agentsN)
	for _, a := range agents {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer done.Add(1)
			for range perAgent / 10 {
				for range 10 {
					if err := a.collect(); err != nil {
						errs <- err
						return
					}
				}
				if err := a.flushUntilEmpty(ctx); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	// Kill exactly at the crash point, once the answers that could still
	// arrive have arrived: nothing of the stopped batch may have been
	// acknowledged, and calls must be waiting on it.
	for wait := time.Now(); ; time.Sleep(10 * time.Millisecond) {
		if _, err := os.Stat(reached); err == nil {
			break
		}
		if time.Since(wait) > 2*time.Minute {
			t.Fatalf("the collector never reached the armed crash point (%d passes)", skip)
		}
	}
	settled := agents[0].acks.Load()
	for last := time.Now(); time.Since(last) < 2*time.Second; time.Sleep(20 * time.Millisecond) {
		if n := agents[0].acks.Load(); n != settled {
			settled, last = n, time.Now()
		}
	}
	waiting := agents[0].calls.Load()
	c.signal(syscall.SIGKILL)
	kills := 1
	if waiting == 0 {
		t.Fatal("no report call was waiting on the batch stopped at the crash point: the kill proves nothing")
	}
	acked := checkAcknowledged(t, c, agents)
	t.Logf("killed at the crash point after %d passes, with %d report calls waiting; all %d reports acknowledged before are stored: %v",
		skip, waiting, acked, !t.Failed())
	if t.Failed() {
		cancel()
		wg.Wait()
		t.FailNow()
	}
	c.start()

	for done.Load() < agentsN && kills < 6 {
		time.Sleep(time.Duration(100+rand.IntN(400)) * time.Millisecond)
		if done.Load() >= agentsN {
			break
		}
		c.signal(syscall.SIGKILL)
		kills++
		time.Sleep(time.Duration(rand.IntN(300)) * time.Millisecond)
		c.start()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	acked, dups := 0, 0
	for _, a := range agents {
		if st, _ := a.spool.Stats(); st.Pending != 0 || st.Dropped != 0 {
			t.Fatalf("device %s: %d reports still spooled, %d dropped", a.id.DeviceID, st.Pending, st.Dropped)
		}
		acked += perAgent
		dups += a.dups
	}
	if kills < 3 {
		t.Fatalf("only %d kills happened during the load; the test proves nothing", kills)
	}
	stored := verify(t, c, agents, perAgent)
	t.Logf("crash test: %d agents, %d reports acknowledged, %d SIGKILLs, stored %d; lost %d, stored twice %d; resends answered as already stored: %d",
		agentsN, acked, kills, stored, acked-min(stored, acked), max(stored-acked, 0), dups)
}

// TestOutageDeliversEverything: 100 agents keep collecting while the
// collector is down; when it returns every report arrives.
func TestOutageDeliversEverything(t *testing.T) {
	const agentsN, perAgent = 100, 40
	c := startCollector(t)
	agents := newFleet(t, c, agentsN)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	var wg sync.WaitGroup
	errs := make(chan error, agentsN)
	var maxPending atomic.Int64
	for _, a := range agents {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range perAgent {
				if err := a.collect(); err != nil {
					errs <- err
					return
				}
				// A cycle: try once, keep the report spooled on failure.
				if err := a.flush(ctx); err != nil && !isTransient(err) {
					errs <- err
					return
				}
				if st, _ := a.spool.Stats(); int64(st.Pending) > maxPending.Load() {
					maxPending.Store(int64(st.Pending))
				}
				time.Sleep(200 * time.Millisecond) // an agent cycle, sped up (agents report every few minutes)
			}
			if err := a.flushUntilEmpty(ctx); err != nil {
				errs <- err
			}
		}()
	}
	time.Sleep(300 * time.Millisecond)
	c.signal(syscall.SIGTERM) // a graceful stop: in-flight batches are committed first
	down := time.Now()
	time.Sleep(1500 * time.Millisecond)
	c.start()
	outage := time.Since(down)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if maxPending.Load() < 5 {
		t.Fatalf("agents never spooled more than %d reports: the outage did not bite", maxPending.Load())
	}
	stored := verify(t, c, agents, perAgent)
	t.Logf("outage test: %d agents, collector down %s, up to %d reports spooled per agent; %d reports collected, %d stored; lost %d",
		agentsN, outage.Round(100*time.Millisecond), maxPending.Load(), agentsN*perAgent, stored, agentsN*perAgent-min(stored, agentsN*perAgent))
}

func isTransient(err error) bool {
	return !errors.Is(err, context.Canceled)
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
