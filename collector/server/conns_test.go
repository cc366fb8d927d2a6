package server_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	"github.com/farmwatch/farmwatch/agent/uplink"
	"github.com/farmwatch/farmwatch/collector/server"
	"github.com/farmwatch/farmwatch/internal/testcollector"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
	"github.com/farmwatch/farmwatch/sim"
)

// floodConns is how many certificate-less connections the flood opens.
const floodConns = 5000

// TestCertlessFloodHelper is not a test: run as a child process by
// TestCertlessConnectionsClosed, it opens certificate-less TLS connections
// to FARMWATCH_FLOOD_ADDR that speak HTTP/2 far enough to be established
// gRPC connections, then stays idle and reports when the collector has
// closed every one. Its memory is its own, not the collector's.
func TestCertlessFloodHelper(t *testing.T) {
	addr := os.Getenv("FARMWATCH_FLOOD_ADDR")
	if addr == "" {
		return
	}
	n, _ := strconv.Atoi(os.Getenv("FARMWATCH_FLOOD_CONNS"))
	start := time.Now()
	conns := make([]net.Conn, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	var failed atomic.Int64
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
				c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2"}, MinVersion: tls.VersionTLS13})
				if err != nil {
					failed.Add(1)
					continue
				}
				// The HTTP/2 client preface and an empty SETTINGS frame: what a
				// gRPC client sends to establish its connection.
				if _, err := c.Write(append([]byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), 0, 0, 0, 4, 0, 0, 0, 0, 0)); err != nil {
					failed.Add(1)
					c.Close()
					continue
				}
				conns[i] = c
			}
		}()
	}
	wg.Wait()
	fmt.Printf("open %d %d %.1f\n", n-int(failed.Load()), failed.Load(), time.Since(start).Seconds())
	var closed sync.WaitGroup
	for _, c := range conns {
		if c == nil {
			continue
		}
		closed.Add(1)
		go func() {
			defer closed.Done()
			io.Copy(io.Discard, c)
			c.Close()
		}()
	}
	closed.Wait()
	fmt.Printf("closed %.1f\n", time.Since(start).Seconds())
}

// memory is the process's live Go heap and resident set, after a full
// collection that returns free memory to the system.
func memory() (heap, rss uint64) {
	runtime.GC()
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && k == "VmRSS" {
			kb, _ := strconv.ParseUint(strings.Fields(v)[0], 10, 64)
			rss = kb << 10
		}
	}
	return ms.HeapInuse + ms.StackInuse, rss
}

// 5,000 idle certificate-less connections are closed after their lifetime
// and the collector's memory returns, while enrolled agents keep reporting.
// The lifetime is 45 s here (30 s by default) so that all 5,000 are open
// at once even when opening them takes a loaded machine half a minute; on a
// machine slower still the earliest close before the last open, which the
// log shows, and everything else holds.
func TestCertlessConnectionsClosed(t *testing.T) {
	if testing.Short() {
		t.Skip("opens 5,000 TLS connections")
	}
	const lifetime = 45 * time.Second
	c := testcollector.Start(t, func(cfg *server.Config) {
		cfg.Conns = server.ConnLimits{CertlessMax: 2 * floodConns, CertlessLifetime: lifetime}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	fp, _ := c.Options().CAFingerprint()
	fleet := sim.Plan(8, 3)
	defer fleet.Close()
	if err := fleet.Register(ctx, c.Admin); err != nil {
		t.Fatal(err)
	}
	if err := fleet.Enroll(ctx, c.Addr(), fp, 8); err != nil {
		t.Fatal(err)
	}
	if _, err := fleet.Send(ctx, time.Now(), 1, 8); err != nil {
		t.Fatal(err)
	}
	heap0, rss0 := memory()

	// The agents report throughout, and the collector's count of
	// certificate-less connections is sampled.
	stop := make(chan struct{})
	var sent, acked, peak atomic.Int64
	var sendErr atomic.Value
	var bg sync.WaitGroup
	bg.Add(2)
	go func() {
		defer bg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(250 * time.Millisecond):
			}
			st, err := fleet.Send(ctx, time.Now(), 1, 8)
			if err != nil {
				sendErr.Store(err)
				return
			}
			sent.Add(int64(st.Reports))
			acked.Add(int64(st.Acked))
		}
	}()
	go func() {
		defer bg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
			if n := int64(c.CertlessConns()); n > peak.Load() {
				peak.Store(n)
			}
		}
	}()
	defer func() {
		select {
		case <-stop:
		default:
			close(stop)
		}
		bg.Wait()
	}()

	flood := exec.Command(os.Args[0], "-test.run=^TestCertlessFloodHelper$")
	flood.Env = append(os.Environ(), "FARMWATCH_FLOOD_ADDR="+c.Addr(), fmt.Sprintf("FARMWATCH_FLOOD_CONNS=%d", floodConns))
	out, err := flood.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	flood.Stderr = os.Stderr
	if err := flood.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { flood.Process.Kill(); flood.Wait() }()
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if l := sc.Text(); strings.HasPrefix(l, "open ") || strings.HasPrefix(l, "closed ") {
				lines <- l
			}
		}
	}()

	var opened, failed int
	var openSecs float64
	select {
	case l, ok := <-lines:
		if !ok {
			t.Fatal("the flood ended before opening its connections")
		}
		fmt.Sscanf(l, "open %d %d %f", &opened, &failed, &openSecs)
	case <-time.After(6 * time.Minute):
		t.Fatal("the flood did not open its connections within 6 minutes")
	}
	if opened != floodConns || failed != 0 {
		t.Fatalf("flood opened %d connections, %d failed; want all %d accepted", opened, failed, floodConns)
	}
	heap1, rss1 := memory()
	openNow := c.CertlessConns()

	// Every connection is closed by the collector within 2 minutes.
	var closedSecs float64
	select {
	case l, ok := <-lines:
		if !ok {
			t.Fatal("the flood ended before seeing its connections closed")
		}
		fmt.Sscanf(l, "closed %f", &closedSecs)
	case <-time.After(2 * time.Minute):
		t.Fatalf("%d certificate-less connections still open 2 minutes after the flood opened them", c.CertlessConns())
	}
	heap2, rss2 := memory()
	close(stop)
	bg.Wait()
	t.Logf("flood: %d connections opened in %.1f s, all closed by the collector %.1f s after the flood started; "+
		"at most %d open at once on the collector (%d when the last had opened)", opened, openSecs, closedSecs, peak.Load(), openNow)
	t.Logf("collector memory, Go heap+stacks / RSS: before %d / %d MiB, with the flood %d / %d MiB, after %d / %d MiB",
		heap0>>20, rss0>>20, heap1>>20, rss1>>20, heap2>>20, rss2>>20)
	t.Logf("agents: %d reports sent during the flood, %d acknowledged", sent.Load(), acked.Load())
	if n := c.CertlessConns(); n != 0 {
		t.Fatalf("the collector still counts %d certificate-less connections", n)
	}
	if err, _ := sendErr.Load().(error); err != nil {
		t.Fatalf("an agent's report failed during the flood: %v", err)
	}
	if sent.Load() == 0 || acked.Load() != sent.Load() {
		t.Fatalf("agents: %d reports sent during the flood, %d acknowledged", sent.Load(), acked.Load())
	}
	// The heap returns to where it was, give or take the caches the agents'
	// reports fill; 5,000 connections held about 130 MiB.
	if heap2 > heap0+32<<20 {
		t.Fatalf("Go heap %d MiB after the flood, %d MiB before", heap2>>20, heap0>>20)
	}
}

// dialCertless opens a TLS connection without a client certificate and
// sends the HTTP/2 greeting, as an idle gRPC client would.
func dialCertless(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2"}, MinVersion: tls.VersionTLS13})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write(append([]byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), 0, 0, 0, 4, 0, 0, 0, 0, 0)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// closedWithin reads c until the collector closes it, or fails the test
// after d.
func closedWithin(t *testing.T, c net.Conn, d time.Duration) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, c)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("connection still open after %s", d)
	}
}

// Past the cap, a certificate-less connection is closed right after its
// handshake; connections with a device certificate are not counted, and
// enrollment works again once places are free.
func TestCertlessConnectionCap(t *testing.T) {
	c, conn, _ := enrolled(t, func(cfg *server.Config) {
		cfg.Conns = server.ConnLimits{CertlessMax: 4, CertlessLifetime: time.Hour}
	})
	ctx := context.Background()
	var held []net.Conn
	for range 4 {
		held = append(held, dialCertless(t, c.Addr()))
	}
	for deadline := time.Now().Add(10 * time.Second); c.CertlessConns() < 4; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d certificate-less connections counted, want 4", c.CertlessConns())
		}
	}
	closedWithin(t, dialCertless(t, c.Addr()), 20*time.Second)
	if _, err := conn.Send(ctx, []*pb.Report{report(1)}); err != nil {
		t.Fatalf("a device with its certificate, certificate-less connections at their cap: %v", err)
	}
	tok, err := c.Admin.CreateToken(ctx, &pb.CreateTokenRequest{HireId: "h1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := uplink.Enroll(ctx, uplink.EnrollOptions{Collector: c.Addr(), Token: tok.GetToken()}); status.Code(err) != codes.Unavailable {
		t.Fatalf("enrollment at the cap: %v, want the connection refused", err)
	}
	for _, h := range held {
		h.Close()
	}
	for deadline := time.Now().Add(10 * time.Second); c.CertlessConns() > 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d certificate-less connections counted after they closed", c.CertlessConns())
		}
	}
	if _, _, err := uplink.Enroll(ctx, uplink.EnrollOptions{Collector: c.Addr(), Token: tok.GetToken()}); err != nil {
		t.Fatalf("enrollment once places are free: %v", err)
	}
}

// A connection that never completes its TLS handshake is closed after the
// handshake timeout; one that goes without a call past the idle timeout is
// sent away, and its agent's next call reconnects.
func TestHandshakeAndIdleTimeouts(t *testing.T) {
	c, _, id := enrolled(t, func(cfg *server.Config) {
		cfg.Conns = server.ConnLimits{HandshakeTimeout: time.Second, IdleTimeout: time.Second}
	})
	raw, err := net.Dial("tcp", c.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	closedWithin(t, raw, 20*time.Second)

	tcfg, err := id.TLSConfig("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	cc, err := grpc.NewClient(c.Addr(), grpc.WithTransportCredentials(credentials.NewTLS(tcfg)))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	agent := pb.NewAgentServiceClient(cc)
	if _, err := agent.Report(ctx, &pb.ReportRequest{Reports: []*pb.Report{report(1)}}); err != nil {
		t.Fatal(err)
	}
	// READY until the collector sends the idle connection away.
	for s := cc.GetState(); s == connectivity.Ready; s = cc.GetState() {
		if !cc.WaitForStateChange(ctx, s) {
			t.Fatal("an idle connection was still open after 30 s")
		}
	}
	if _, err := agent.Report(ctx, &pb.ReportRequest{Reports: []*pb.Report{report(2)}}); err != nil {
		t.Fatalf("the next call after an idle close: %v", err)
	}
}

// The agent pings no faster than the collector allows: a client pinging
// more often than KeepaliveMinTime is disconnected with "too_many_pings".
func TestAgentKeepaliveWithinCollectorPolicy(t *testing.T) {
	if uplink.KeepaliveTime < server.KeepaliveMinTime {
		t.Fatalf("the agent pings every %s, the collector allows one ping per %s", uplink.KeepaliveTime, server.KeepaliveMinTime)
	}
	if uplink.KeepaliveTime+uplink.KeepaliveTimeout >= uplink.DefaultCallTimeout {
		t.Fatalf("keepalive (%s + %s) cannot catch a dead connection before the call's deadline (%s)",
			uplink.KeepaliveTime, uplink.KeepaliveTimeout, uplink.DefaultCallTimeout)
	}
}
