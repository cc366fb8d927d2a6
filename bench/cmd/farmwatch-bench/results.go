package main

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
)

// benchMetrics parses `go test -bench` output: benchmark name (without the
// -GOMAXPROCS suffix) -> unit -> value.
func benchMetrics(path string) (map[string]map[string]float64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]map[string]float64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 4 || !strings.HasPrefix(fields[0], "Benchmark") {
			continue
		}
		name := fields[0]
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			name = name[:i]
		}
		m := map[string]float64{}
		for i := 2; i+1 < len(fields); i += 2 {
			if v, err := strconv.ParseFloat(fields[i], 64); err == nil {
				m[fields[i+1]] = v
			}
		}
		out[name] = m
	}
	return out, sc.Err()
}

// footprintRows adds the running agent service against a running
// node_exporter, both measured from outside their processes in the same run
// (cmd/farmwatch-agent/footprint_linux_test.go; goals from there).
func footprintRows(path string, t *table) error {
	all, err := benchMetrics(path)
	if err != nil {
		return err
	}
	m, ok := all["BenchmarkFootprint"]
	if !ok {
		t.add("agent footprint", "not measured", skipReason(path), "below node_exporter", false)
		return nil
	}
	cpu, ne := m["agent_cpu_ms/cycle"], m["node_exporter_cpu_ms/scrape"]
	t.add("agent service CPU per cycle (with its commands)", fmt.Sprintf("%.1f ms", cpu),
		fmt.Sprintf("node_exporter %.1f ms per scrape", ne), "< 100 ms and below node_exporter", cpu < 100 && cpu < ne)
	hwm, nhwm := m["agent_hwm_MB"], m["node_exporter_hwm_MB"]
	t.add("agent service peak resident memory (VmHWM)", fmt.Sprintf("%.1f MB", hwm),
		fmt.Sprintf("node_exporter %.1f MB", nhwm), "< 30 MB and below node_exporter", hwm < 30 && hwm < nhwm)
	rss, nrss := m["agent_rss_MB"], m["node_exporter_rss_MB"]
	t.info("agent service resident memory (VmRSS, mean over the cycles)", fmt.Sprintf("%.1f MB", rss),
		fmt.Sprintf("node_exporter %.1f MB", nrss))
	return nil
}

// geoRows adds the geo lookup benchmarks (geo/bench_test.go) against the
// geo issue's goals: under 5 µs a lookup uncached (City and ASN together),
// over 1,000,000 lookups a second per core from the cache.
func geoRows(path string, t *table) error {
	all, err := benchMetrics(path)
	if err != nil {
		return err
	}
	data := "synthetic 50,000-network databases"
	if b, err := os.ReadFile(path); err == nil && strings.Contains(string(b), "real databases") {
		data = "full City + ASN databases"
	}
	cores := float64(runtime.NumCPU())
	for _, b := range []struct {
		name, figure, goal string
		met                func(m map[string]float64) bool
	}{
		{"BenchmarkLookupUncached", "geo lookup, uncached", "< 5 µs a lookup",
			func(m map[string]float64) bool { return m["ns/op"] < 5000 }},
		{"BenchmarkLookupColdCache", "geo lookup, cache missing", "< 5 µs a lookup",
			func(m map[string]float64) bool { return m["ns/op"] < 5000 }},
		{"BenchmarkLookupWarmCache", "geo lookup, warm cache, one core", ">= 1,000,000 /s per core",
			func(m map[string]float64) bool { return m["lookups/s"] >= 1e6 }},
		{"BenchmarkLookupWarmCacheParallel", "geo lookup, warm cache, all cores", fmt.Sprintf(">= %s /s (%g cores)", thousands(int64(1e6*cores)), cores),
			func(m map[string]float64) bool { return m["lookups/s"] >= 1e6*cores }},
	} {
		m, ok := all[b.name]
		if !ok {
			continue
		}
		t.add(b.figure, rate(m["lookups/s"], "/s")+fmt.Sprintf(" (%.2f µs)", m["ns/op"]/1000),
			fmt.Sprintf("%s; the ingest goal needs %s reports/s", data, thousands(ingestGoal)), b.goal, b.met(m))
	}
	return nil
}

func skipReason(path string) string {
	b, _ := os.ReadFile(path)
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, "SKIP") || strings.Contains(l, "skip") {
			return strings.TrimSpace(l)
		}
	}
	return "see " + path
}
