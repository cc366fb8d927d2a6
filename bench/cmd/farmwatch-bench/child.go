package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/farmwatch/farmwatch/collector/pki"
	"github.com/farmwatch/farmwatch/collector/server"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// runCollectorChild is `farmwatch serve` with loopback as its trusted proxy
// (so the PROXY headers of the simulated devices place them at public IPs)
// and an optional CPU profile, until SIGTERM.
func runCollectorChild(args []string) error {
	var cfg server.Config
	var profile string
	fs := flag.NewFlagSet("collector", flag.ContinueOnError)
	fs.StringVar(&cfg.DataDir, "data", "", "data dir")
	fs.StringVar(&cfg.GeoCity, "geoip-city", "", "City database")
	fs.StringVar(&cfg.GeoASN, "geoip-asn", "", "ASN database")
	fs.StringVar(&profile, "cpuprofile", "", "CPU profile, written from SIGUSR1 until SIGTERM")
	fs.StringVar(&cfg.Outputs, "outputs", "", "alert outputs file (farmwatch serve --outputs)")
	fs.StringVar(&cfg.StoreURL, "store", "", "PostgreSQL URL of the store (farmwatch serve --store)")
	fs.StringVar(&cfg.CACert, "ca-cert", "", "CA certificate shared with another collector (farmwatch serve --ca-cert)")
	fs.StringVar(&cfg.CAKey, "ca-key", "", "its key")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg.Listen = "127.0.0.1:0"
	cfg.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	server.TuneGC(server.DefaultGCPercent) // as farmwatch serve does
	server.TuneMemoryLimit(0)
	srv, err := server.New(cfg)
	if err != nil {
		return err
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve() }()
	// The store's conflict retries, all and those since the measured window
	// began (SIGUSR1), are written to the data dir at the end.
	var retries0 int64
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGUSR1)
	for {
		select {
		case err := <-errc:
			return err
		case s := <-sigs:
			if s == syscall.SIGUSR1 {
				retries0 = srv.Store().Retries()
				if profile != "" {
					f, err := os.Create(profile)
					if err != nil {
						return err
					}
					defer f.Close()
					if err := pprof.StartCPUProfile(f); err != nil {
						return err
					}
					defer pprof.StopCPUProfile()
				}
				continue
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			srv.Stop(ctx)
			cancel()
			r := srv.Store().Retries()
			return os.WriteFile(filepath.Join(cfg.DataDir, retriesFile), fmt.Appendf(nil, "%d %d\n", r, r-retries0), 0o644)
		}
	}
}

// retriesFile is where a collector child leaves its store's conflict
// retries: all of them, then those of the measured window.
const retriesFile = "bench-store-retries"

// readRetries reads a stopped collector child's retriesFile.
func readRetries(data string) (all, window int64, err error) {
	b, err := os.ReadFile(filepath.Join(data, retriesFile))
	if err != nil {
		return 0, 0, err
	}
	_, err = fmt.Sscan(string(b), &all, &window)
	return all, window, err
}

// child is a collector or echo server started by this binary.
type child struct {
	cmd  *exec.Cmd
	logs bytes.Buffer
	done chan error

	stopOnce sync.Once
	stopErr  error
}

func startChild(args ...string) (*child, error) {
	exe, err := self()
	if err != nil {
		return nil, err
	}
	c := &child{cmd: exec.Command(exe, args...), done: make(chan error, 1)}
	c.cmd.Stdout, c.cmd.Stderr = &c.logs, &c.logs
	if err := c.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { c.done <- c.cmd.Wait() }()
	return c, nil
}

// waitFile waits for the child to write path (its address).
func (c *child) waitFile(path string) (string, error) {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(path); err == nil && len(bytes.TrimSpace(b)) > 0 {
			return strings.TrimSpace(string(b)), nil
		}
		select {
		case err := <-c.done:
			return "", fmt.Errorf("%s exited (%v):\n%s", c.cmd.Args[1], err, c.logs.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	return "", fmt.Errorf("%s did not write %s in time:\n%s", c.cmd.Args[1], path, c.logs.String())
}

func (c *child) signal(s os.Signal) { c.cmd.Process.Signal(s) }

// stop ends the child (once; later calls return the first's result).
func (c *child) stop() error {
	c.stopOnce.Do(func() {
		c.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case c.stopErr = <-c.done:
		case <-time.After(60 * time.Second):
			c.cmd.Process.Kill()
			c.stopErr = errors.New("child did not stop in 60 s; killed")
		}
	})
	return c.stopErr
}

// cpu is the user+system CPU time the child has used so far.
func (c *child) cpu() time.Duration { return procCPU(c.cmd.Process.Pid) }

// memory returns the child's peak and current resident set and the
// anonymous (heap, stacks) part of the current one, in bytes.
func (c *child) memory() (hwm, rss, anon int64) {
	p := fmt.Sprintf("/proc/%d/status", c.cmd.Process.Pid)
	return procStatusField(p, "VmHWM") << 10, procStatusField(p, "VmRSS") << 10, procStatusField(p, "RssAnon") << 10
}

// procCPU reads utime+stime (clock ticks of 1/100 s) of a process.
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command name (which may hold spaces) start at ") ".
	i := bytes.LastIndexByte(b, ')')
	f := strings.Fields(string(b[i+2:]))
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+s) * 10 * time.Millisecond
}

// procStatusField reads a "Name:   123 kB" line (the number) of a /proc file.
func procStatusField(path, name string) int64 {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && k == name {
			n, _ := strconv.ParseInt(strings.Fields(v)[0], 10, 64)
			return n
		}
	}
	return 0
}

// The echo server answers a ReportRequest with a ReportResponse that
// acknowledges every seq: grpc-go, TLS and protobuf with nothing behind them.

type echoService interface {
	report(context.Context, *pb.ReportRequest) (*pb.ReportResponse, error)
}

type echo struct{}

func (echo) report(_ context.Context, req *pb.ReportRequest) (*pb.ReportResponse, error) {
	resp := &pb.ReportResponse{ServerTimeUnixMs: time.Now().UnixMilli()}
	for _, r := range req.GetReports() {
		resp.Acknowledged = append(resp.Acknowledged, r.GetSeq())
	}
	return resp, nil
}

const echoMethod = "/farmwatch.bench.Echo/Report"

var echoDesc = grpc.ServiceDesc{
	ServiceName: "farmwatch.bench.Echo",
	HandlerType: (*echoService)(nil),
	Methods: []grpc.MethodDesc{{MethodName: "Report",
		Handler: func(srv any, ctx context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
			req := &pb.ReportRequest{}
			if err := dec(req); err != nil {
				return nil, err
			}
			return srv.(echoService).report(ctx, req)
		}}},
}

// runEchoChild serves the echo over mutual TLS with certificates of the CA
// in dir, and writes its address to dir/echo.addr.
func runEchoChild(args []string) error {
	fs := flag.NewFlagSet("echo-server", flag.ContinueOnError)
	dir := fs.String("dir", "", "directory of the CA; the address is written there")
	static := fs.Bool("static-windows", false, "fixed flow-control windows, as the collector sets them")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ca, _, err := pki.LoadOrCreateCA(*dir)
	if err != nil {
		return err
	}
	cert, err := ca.IssueServer(*dir, []string{"127.0.0.1", "localhost"})
	if err != nil {
		return err
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	opts := []grpc.ServerOption{grpc.Creds(credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{cert},
		ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS13})),
		grpc.MaxRecvMsgSize(server.DefaultLimits().MaxMessageBytes)}
	if *static {
		opts = append(opts, grpc.StaticStreamWindowSize(1<<20), grpc.StaticConnWindowSize(1<<20))
	}
	srv := grpc.NewServer(opts...)
	srv.RegisterService(&echoDesc, echo{})
	if err := pki.WriteFileAtomic(filepath.Join(*dir, "echo.addr"), []byte(lis.Addr().String()), 0o644); err != nil {
		return err
	}
	go func() {
		sigs := make(chan os.Signal, 1)
		signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
		<-sigs
		srv.Stop()
	}()
	return srv.Serve(lis)
}
