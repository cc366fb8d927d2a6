package multicollector_test

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/farmwatch/farmwatch/collector/adminconn"
	"github.com/farmwatch/farmwatch/internal/pgtest"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// farmwatchBinary builds cmd/farmwatch, to run collectors as processes
// the way an operator does.
func farmwatchBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "farmwatch")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/farmwatch/farmwatch/cmd/farmwatch").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// serveProcess is a `farmwatch serve --store` process.
type serveProcess struct {
	cmd    *exec.Cmd
	addr   string
	data   string
	admin  pb.AdminServiceClient
	stderr *syncWriter
}

type syncWriter struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *syncWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// startServeProcess runs `farmwatch serve` on the shared store and CA and
// waits until it listens.
func startServeProcess(t *testing.T, bin, url string, ca caFiles) *serveProcess {
	t.Helper()
	p := &serveProcess{data: t.TempDir(), stderr: &syncWriter{}}
	p.cmd = exec.Command(bin, "serve", "--data", p.data, "--listen", "127.0.0.1:0", "--store", url,
		"--ca-cert", ca.cert, "--ca-key", ca.key, "--device-daily-budget", "none")
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.cmd.Stderr = p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.cmd.Process.Signal(os.Interrupt)
		p.cmd.Wait()
	})
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "collector listening on "); ok {
				ready <- strings.TrimSuffix(strings.Fields(a)[0], ";")
			}
		}
		close(ready)
	}()
	select {
	case addr, ok := <-ready:
		if !ok {
			t.Fatalf("farmwatch serve exited before listening:\n%s", p.stderr)
		}
		p.addr = addr
	case <-time.After(60 * time.Second):
		t.Fatalf("farmwatch serve: not listening after 60 s:\n%s", p.stderr)
	}
	admin, closeAdmin, err := adminconn.Dial(adminconn.Options{Data: p.data})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closeAdmin() })
	p.admin = admin
	return p
}

// The collector processes of a deployment: agents deliver to two
// `farmwatch serve --store` processes on one PostgreSQL database, and A is
// SIGKILLed in the middle of their deliveries, its transactions in flight
// cut wherever they were (PostgreSQL rolls back what did not commit; what
// did commit may never have been acknowledged). The agents go on with B.
// Every report acknowledged is stored exactly once; every spool ends empty.
func TestSIGKILLCollectorProcessUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("a load test")
	}
	url := pgtest.Shared(t).NewDatabase(t)
	bin := farmwatchBinary(t)
	ca := newCA(t)
	a := startServeProcess(t, bin, url, ca)
	b := startServeProcess(t, bin, url, ca)
	agents := enrollAgents(t, a.admin, []string{a.addr, b.addr}, 8)

	r := killUnderLoad(t, agents, a.addr, b.addr, b.admin, func() {
		if err := a.cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		a.cmd.Wait()
	})
	t.Logf("%d agents, %s: %d reports acknowledged (%d by A in %s before its SIGKILL, %d by B), %d at the kill; %d deliveries failed",
		len(agents), r.took, r.acked, r.ackedOn[a.addr], r.killedAfter, r.ackedOn[b.addr], r.atKill, r.failed)
}
