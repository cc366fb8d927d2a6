package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/farmwatch/farmwatch/agent/collect"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat:
// 100 on every Linux architecture the agent ships for.
const clockTicks = 100

// BenchmarkFootprint measures the agent against Debian's
// prometheus-node-exporter on the same machine in the same run: the CPU time
// of one full collection cycle (the agent's own threads plus the commands it
// runs) against the exporter's CPU time per /metrics scrape, and the
// agent's peak resident memory for `collect --json` against the exporter's
// resident memory after scrapes. Goals: below node_exporter on both, under
// 100 ms CPU per cycle and under 30 MB resident.
//
//	go test -run '^$' -bench Footprint -benchtime 20x ./cmd/farmwatch-agent/
func BenchmarkFootprint(b *testing.B) {
	exporter, err := exec.LookPath("prometheus-node-exporter")
	if err != nil {
		b.Skip("prometheus-node-exporter is not installed (scripts/ci-packages.sh installs it): no baseline to compare with")
	}
	neCPU, neRSS := measureNodeExporter(b, exporter)
	agentRSS := agentPeakRSS(b, 5)

	env := collect.HostEnv()
	ctx := context.Background()
	collect.Collect(ctx, env, collect.Options{}) // warm caches as a running agent has them
	before := cpuSelfAndChildren(b)
	b.ResetTimer()
	for range b.N {
		collect.Collect(ctx, env, collect.Options{})
	}
	b.StopTimer()
	agentCPU := float64((cpuSelfAndChildren(b) - before).Microseconds()) / 1000 / float64(b.N)

	b.ReportMetric(agentCPU, "agent_cpu_ms/cycle")
	b.ReportMetric(agentRSS, "agent_rss_MB")
	b.ReportMetric(neCPU, "node_exporter_cpu_ms/scrape")
	b.ReportMetric(neRSS, "node_exporter_rss_MB")
	if neCPU > 0 {
		b.ReportMetric(agentCPU/neCPU, "cpu_agent/node_exporter")
	}
	if neRSS > 0 {
		b.ReportMetric(agentRSS/neRSS, "rss_agent/node_exporter")
	}
	if agentCPU >= 100 || agentRSS >= 30 || agentCPU >= neCPU || agentRSS >= neRSS {
		b.Logf("footprint goal missed: agent %.1f ms CPU/cycle, %.1f MB; node_exporter %.1f ms/scrape, %.1f MB",
			agentCPU, agentRSS, neCPU, neRSS)
	}
}

// cpuSelfAndChildren is the user+system CPU time of this process and of its
// waited-for children (the commands collectors run).
func cpuSelfAndChildren(tb testing.TB) time.Duration {
	var total time.Duration
	for _, who := range []int{syscall.RUSAGE_SELF, syscall.RUSAGE_CHILDREN} {
		var ru syscall.Rusage
		if err := syscall.Getrusage(who, &ru); err != nil {
			tb.Fatal(err)
		}
		total += time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	return total
}

// agentPeakRSS runs `farmwatch-agent collect --json` n times and returns the
// largest peak resident set in MB. Go starts children with vfork: until
// exec the child shares this test's memory, and Linux folds that into the
// child's ru_maxrss. A small helper process starts the agent instead, so
// the peak measured is the agent's own.
func agentPeakRSS(tb testing.TB, n int) float64 {
	bin, helper := agentBinary(tb), rssHelper(tb)
	var peakKB int64
	for range n {
		out, err := exec.Command(helper, bin, "collect", "--json").Output()
		if err != nil {
			tb.Fatalf("farmwatch-agent collect --json: %v", err)
		}
		kb, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64)
		if err != nil {
			tb.Fatalf("rss helper said %q", out)
		}
		peakKB = max(peakKB, kb)
	}
	return float64(peakKB) / 1024
}

// rssHelperSource runs a command with its output discarded and prints the
// command's ru_maxrss in kB.
const rssHelperSource = `package main

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"
)

func main() {
	cmd := exec.Command(os.Args[1], os.Args[2:]...)
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss)
}
`

func rssHelper(tb testing.TB) string {
	dir := tb.TempDir()
	for name, content := range map[string]string{"go.mod": "module rsshelper\n\ngo 1.22\n", "main.go": rssHelperSource} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	cmd := exec.Command("go", "build", "-o", "rsshelper", ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=")
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("build the rss helper: %v\n%s", err, out)
	}
	return filepath.Join(dir, "rsshelper")
}

// measureNodeExporter starts the exporter, scrapes it, and returns its CPU
// time per scrape in ms (from many scrapes, for clock-tick resolution) and
// its resident memory in MB.
func measureNodeExporter(tb testing.TB, exporter string) (cpuMS, rssMB float64) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(exporter, "--web.listen-address="+addr)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()

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
	deadline := time.Now().Add(10 * time.Second)
	for scrape() != nil {
		if time.Now().After(deadline) {
			tb.Fatalf("node_exporter did not answer on %s:\n%s", url, logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	for range 3 { // warm up as a long-running exporter is
		if err := scrape(); err != nil {
			tb.Fatal(err)
		}
	}
	const scrapes = 30
	start := procCPUTicks(tb, cmd.Process.Pid)
	for range scrapes {
		if err := scrape(); err != nil {
			tb.Fatal(err)
		}
	}
	ticks := procCPUTicks(tb, cmd.Process.Pid) - start
	cpuMS = float64(ticks) * 1000 / clockTicks / scrapes
	return cpuMS, procRSSMB(tb, cmd.Process.Pid)
}

// procCPUTicks is utime+stime of a process from /proc/<pid>/stat.
func procCPUTicks(tb testing.TB, pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		tb.Fatal(err)
	}
	// Fields after the parenthesised comm, which may hold spaces: state is
	// field 3, utime 14, stime 15.
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 13 {
		tb.Fatalf("short /proc/%d/stat: %q", pid, s)
	}
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err1 != nil || err2 != nil {
		tb.Fatalf("/proc/%d/stat: %q", pid, s)
	}
	return utime + stime
}

// procRSSMB is VmRSS of a process from /proc/<pid>/status.
func procRSSMB(tb testing.TB, pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		tb.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			if err != nil {
				tb.Fatalf("VmRSS %q: %v", rest, err)
			}
			return kb / 1024
		}
	}
	tb.Fatalf("no VmRSS in /proc/%d/status", pid)
	return 0
}
