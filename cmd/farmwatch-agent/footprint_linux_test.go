package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/farmwatch/farmwatch/collector/server"
	"github.com/farmwatch/farmwatch/internal/agentlimits"
	"github.com/farmwatch/farmwatch/internal/testcollector"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat:
// 100 on every Linux architecture the agent ships for.
const clockTicks = 100

// footprintInterval is the agent's report interval and the exporter's
// scrape interval in BenchmarkFootprint: the shortest an agent accepts, so
// that N cycles take N times 10 s.
const footprintInterval = agentlimits.MinReportInterval

// BenchmarkFootprint measures two running services like for like, in the
// same run and by the same code from outside their processes: the agent
// service (`farmwatch-agent run`, enrolled with and reporting over mutual
// TLS to a real collector, every footprintInterval) against Debian's
// prometheus-node-exporter on a loopback port, scraped every
// footprintInterval. For each it reports the CPU time per cycle or scrape
// (utime+stime of the process and its waited-for children over b.N cycles,
// divided by b.N: the idle time between them counts too) and its resident
// memory (VmRSS sampled every 100 ms over those cycles: mean and largest;
// and VmHWM, the peak since the process started). An agent cycle counts
// when the collector has stored its report. Goals: below node_exporter on
// both, under 100 ms of CPU a cycle, under 30 MB.
//
//	go test -run '^$' -bench Footprint -benchtime 20x ./cmd/farmwatch-agent/
//
// b.N cycles take b.N times footprintInterval, plus a warm-up cycle.
func BenchmarkFootprint(b *testing.B) {
	exporter, err := exec.LookPath("prometheus-node-exporter")
	if err != nil {
		b.Skip("prometheus-node-exporter is not installed (scripts/ci-packages.sh installs it): no baseline to compare with")
	}
	agent := startAgentService(b)
	ne := startNodeExporter(b, exporter)

	// Both at once, so that both see the same machine.
	var agentFP, neFP footprint
	var agentErr, neErr error
	var wg sync.WaitGroup
	b.ResetTimer()
	wg.Go(func() { agentFP, agentErr = measureService(agent.pid, b.N, agent.awaitCycle) })
	wg.Go(func() { neFP, neErr = measureService(ne.pid, b.N, ne.scrapeOnSchedule) })
	wg.Wait()
	b.StopTimer()
	if agentErr != nil {
		b.Fatalf("farmwatch-agent run: %v\n%s", agentErr, agent.logs())
	}
	if neErr != nil {
		b.Fatalf("node_exporter: %v\n%s", neErr, ne.logs())
	}

	if testing.Verbose() { // e.g. GODEBUG=gctrace=1 go test -v -bench ...: what each service printed
		b.Logf("farmwatch-agent run:\n%s\nnode_exporter:\n%s", agent.logs(), ne.logs())
	}
	b.ReportMetric(agentFP.cpuMS, "agent_cpu_ms/cycle")
	b.ReportMetric(agentFP.childrenCPUMS, "agent_children_cpu_ms/cycle")
	b.ReportMetric(agentFP.rssMeanMB, "agent_rss_MB")
	b.ReportMetric(agentFP.rssMaxMB, "agent_rss_max_MB")
	b.ReportMetric(agentFP.hwmMB, "agent_hwm_MB")
	b.ReportMetric(neFP.cpuMS, "node_exporter_cpu_ms/scrape")
	b.ReportMetric(neFP.rssMeanMB, "node_exporter_rss_MB")
	b.ReportMetric(neFP.rssMaxMB, "node_exporter_rss_max_MB")
	b.ReportMetric(neFP.hwmMB, "node_exporter_hwm_MB")
	if neFP.cpuMS > 0 {
		b.ReportMetric(agentFP.cpuMS/neFP.cpuMS, "cpu_agent/node_exporter")
	}
	if neFP.hwmMB > 0 {
		b.ReportMetric(agentFP.hwmMB/neFP.hwmMB, "hwm_agent/node_exporter")
	}
	if agentFP.cpuMS >= 100 || agentFP.hwmMB >= 30 || agentFP.cpuMS >= neFP.cpuMS || agentFP.hwmMB >= neFP.hwmMB {
		b.Logf("footprint goal missed: agent %.1f ms CPU/cycle, %.1f MB VmHWM; node_exporter %.1f ms/scrape, %.1f MB VmHWM",
			agentFP.cpuMS, agentFP.hwmMB, neFP.cpuMS, neFP.hwmMB)
	}
}

// footprint is what measureService found of one service.
type footprint struct {
	cpuMS                      float64 // CPU time per cycle, ms, the children's included
	childrenCPUMS              float64 // of which the waited-for children's
	rssMeanMB, rssMaxMB, hwmMB float64
}

// measureService waits for one cycle of the process pid (warm-up), then
// for n more, and returns its CPU time per cycle over those n and its
// resident memory while they ran. cycle returns when one more cycle has
// happened.
func measureService(pid, n int, cycle func() error) (footprint, error) {
	if err := cycle(); err != nil {
		return footprint{}, fmt.Errorf("warm-up cycle: %w", err)
	}
	startSelf, startChildren, err := procCPUTicks(pid)
	if err != nil {
		return footprint{}, err
	}
	done := make(chan struct{})
	samples := make(chan []float64)
	go func() {
		var rss []float64
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			if mb, err := procStatusMB(pid, "VmRSS"); err == nil {
				rss = append(rss, mb)
			}
			select {
			case <-done:
				samples <- rss
				return
			case <-tick.C:
			}
		}
	}()
	for i := range n {
		if err := cycle(); err != nil {
			close(done)
			<-samples
			return footprint{}, fmt.Errorf("cycle %d of %d: %w", i+1, n, err)
		}
	}
	endSelf, endChildren, err := procCPUTicks(pid)
	close(done)
	rss := <-samples
	if err != nil {
		return footprint{}, err
	}
	hwm, err := procStatusMB(pid, "VmHWM")
	if err != nil {
		return footprint{}, err
	}
	perCycle := func(ticks int64) float64 { return float64(ticks) * 1000 / clockTicks / float64(n) }
	fp := footprint{cpuMS: perCycle(endSelf - startSelf + endChildren - startChildren),
		childrenCPUMS: perCycle(endChildren - startChildren), hwmMB: hwm}
	if len(rss) > 0 {
		var sum float64
		for _, v := range rss {
			sum += v
		}
		fp.rssMeanMB, fp.rssMaxMB = sum/float64(len(rss)), slices.Max(rss)
	}
	return fp, nil
}

// service is a process the benchmark started, with its output kept for
// when it fails.
type service struct {
	pid  int
	mu   sync.Mutex
	out  bytes.Buffer
	next time.Time // scrapeOnSchedule: when the next scrape is due

	awaitCycle       func() error
	scrapeOnSchedule func() error
}

func (s *service) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.out.Write(p)
}

func (s *service) logs() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.out.String()
}

// start runs cmd until the benchmark ends.
func (s *service) start(tb testing.TB, cmd *exec.Cmd) {
	tb.Helper()
	cmd.Stdout, cmd.Stderr = s, s
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	s.pid = cmd.Process.Pid
	tb.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
}

// startAgentService starts a test collector whose report interval is
// footprintInterval, enrolls an agent with it (`farmwatch-agent enroll`, as
// IT's install does once), and starts `farmwatch-agent run` with an install
// config naming that collector and interval. Its awaitCycle returns when the
// collector has stored one more report of the device.
func startAgentService(tb testing.TB) *service {
	tb.Helper()
	// The collector's log would split the benchmark's result line, which
	// make bench parses.
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.DiscardHandler))
	tb.Cleanup(func() { slog.SetDefault(prev) })
	c := testcollector.Start(tb, func(cfg *server.Config) { cfg.ReportInterval = footprintInterval })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	fp, err := c.Options().CAFingerprint()
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := c.Admin.AddHires(ctx, &pb.AddHiresRequest{Hires: []*pb.Hire{{
		Id: "footprint", Name: "Footprint Bench", ClaimedHome: "Austin, TX, US"}}}); err != nil {
		tb.Fatal(err)
	}
	tok, err := c.Admin.CreateToken(ctx, &pb.CreateTokenRequest{HireId: "footprint"})
	if err != nil {
		tb.Fatal(err)
	}
	bin, state := agentBinary(tb), tb.TempDir()
	if out, err := exec.CommandContext(ctx, bin, "enroll", "--collector", c.Addr(), "--token", tok.GetToken(),
		"--ca-fingerprint", fp, "--state", state).CombinedOutput(); err != nil {
		tb.Fatalf("farmwatch-agent enroll: %v\n%s", err, out)
	}
	cfg, err := json.Marshal(installConfig{Collector: collectorList(c.Addr()), CAFingerprint: fp,
		ReportInterval: footprintInterval.String(), StateDir: state})
	if err != nil {
		tb.Fatal(err)
	}
	cfgPath := filepath.Join(tb.TempDir(), "agent.json")
	if err := os.WriteFile(cfgPath, cfg, 0o600); err != nil {
		tb.Fatal(err)
	}
	s := &service{}
	s.start(tb, exec.Command(bin, "run", "--config", cfgPath))
	var seen uint64
	s.awaitCycle = func() error {
		deadline := time.Now().Add(3*footprintInterval + time.Minute)
		for time.Now().Before(deadline) {
			n, err := storedReports(c.Admin)
			if err != nil {
				return err
			}
			if n > seen {
				seen = n
				return nil
			}
			time.Sleep(100 * time.Millisecond)
		}
		return fmt.Errorf("the collector stored no report after %d", seen)
	}
	return s
}

// storedReports is how many reports the collector stored of its one device.
func storedReports(admin pb.AdminServiceClient) (uint64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := admin.ListDevices(ctx, &pb.ListDevicesRequest{})
	if err != nil {
		return 0, fmt.Errorf("list devices: %w", err)
	}
	if d := resp.GetDevices(); len(d) == 1 {
		return d[0].GetReports(), nil
	}
	return 0, nil
}

// startNodeExporter starts the exporter on a loopback port and waits until
// it answers. Its scrapeOnSchedule scrapes /metrics every
// footprintInterval, as a Prometheus server would.
func startNodeExporter(tb testing.TB, exporter string) *service {
	tb.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	s := &service{}
	s.start(tb, exec.Command(exporter, "--web.listen-address="+addr))

	url := "http://" + addr + "/metrics"
	client := &http.Client{Timeout: 10 * time.Second}
	scrape := func() error {
		resp, err := client.Get(url)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if _, err := io.Copy(io.Discard, resp.Body); err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s: %s", url, resp.Status)
		}
		return nil
	}
	// Wait for the listener without scraping: the first scrape is the
	// warm-up cycle, as the agent's first report is.
	deadline := time.Now().Add(10 * time.Second)
	for {
		conn, err := net.Dial("tcp4", addr)
		if err == nil {
			conn.Close()
			break
		}
		if time.Now().After(deadline) {
			tb.Fatalf("node_exporter did not listen on %s:\n%s", addr, s.logs())
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.scrapeOnSchedule = func() error {
		if !s.next.IsZero() {
			time.Sleep(time.Until(s.next))
		}
		s.next = time.Now().Add(footprintInterval)
		return scrape()
	}
	return s
}

// procCPUTicks is the CPU time of a process and of its waited-for children
// in clock ticks: utime+stime and cutime+cstime, fields 14-17 of
// /proc/<pid>/stat.
func procCPUTicks(pid int) (self, children int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, err
	}
	return parseStatCPU(string(b))
}

// parseStatCPU reads fields 14-17 of a /proc/<pid>/stat line. The fields
// are counted after the parenthesised comm, which may hold spaces and
// parentheses: state is field 3, utime 14, stime 15, cutime 16, cstime 17.
func parseStatCPU(stat string) (self, children int64, err error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, 0, fmt.Errorf("/proc stat line without a comm: %q", stat)
	}
	fields := strings.Fields(stat[i+1:])
	if len(fields) < 15 {
		return 0, 0, fmt.Errorf("short /proc stat line: %q", stat)
	}
	var ticks [4]int64
	for j, f := range fields[11:15] {
		v, err := strconv.ParseInt(f, 10, 64)
		if err != nil || v < 0 {
			return 0, 0, fmt.Errorf("/proc stat field %q: not a tick count", f)
		}
		ticks[j] = v
	}
	return ticks[0] + ticks[1], ticks[2] + ticks[3], nil
}

// procStatusMB is a memory line of /proc/<pid>/status (VmRSS, VmHWM) in MB.
func procStatusMB(pid int, key string) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, key+":"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			if err != nil {
				return 0, fmt.Errorf("%s %q: %w", key, rest, err)
			}
			return kb / 1024, nil
		}
	}
	return 0, errors.New("no " + key + " in /proc/" + strconv.Itoa(pid) + "/status")
}

// TestParseStatCPU checks the fields BenchmarkFootprint sums: a comm may
// hold spaces and parentheses, and the children's time counts.
func TestParseStatCPU(t *testing.T) {
	// proc(5): pid (comm) state ppid pgrp session tty_nr tpgid flags minflt
	// cminflt majflt cmajflt utime stime cutime cstime priority nice ...
	const line = "4242 (farm watch) (x)) S 1 4242 4242 0 -1 4194560 1200 3400 0 0 " +
		"17 5 230 41 20 0 8 0 123456 1273528320 4690 18446744073709551615\n"
	self, children, err := parseStatCPU(line)
	if err != nil {
		t.Fatal(err)
	}
	if self != 17+5 || children != 230+41 {
		t.Errorf("parseStatCPU = %d, %d ticks, want %d (utime+stime), %d (cutime+cstime)", self, children, 17+5, 230+41)
	}
	for _, bad := range []string{"", "4242 (x) S 1 2 3", "4242 (x) S 1 4242 4242 0 -1 0 0 0 0 0 a 5 6 7 20"} {
		if _, _, err := parseStatCPU(bad); err == nil {
			t.Errorf("parseStatCPU(%q): no error", bad)
		}
	}
}
