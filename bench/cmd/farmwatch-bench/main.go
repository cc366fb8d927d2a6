// Command farmwatch-bench measures the collector against the limits of the
// machine it runs on, in one run: report ingest through the fleet simulator
// over real gRPC with mutual TLS next to raw bbolt writes and a bare grpc-go
// echo of the same bytes, admin queries against a store of 100,000 devices,
// and (from `go test -bench` output) the agent's footprint and geo lookups.
// `make bench` runs it and prints one table; docs/PERFORMANCE.md explains the
// figures.
//
// The collector and the echo server run as child processes (this binary,
// re-executed), so their CPU time and resident memory are their own.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "collector":
			exitOn(runCollectorChild(os.Args[2:]))
			return
		case "echo-server":
			exitOn(runEchoChild(os.Args[2:]))
			return
		}
	}
	exitOn(run(os.Args[1:]))
}

func exitOn(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "farmwatch-bench:", err)
		os.Exit(1)
	}
}

type options struct {
	fleets         []int
	duration       time.Duration
	warmup         time.Duration
	concurrency    int
	rawRecords     int
	queryDevices   int
	queryReports   int
	queryRepeats   int
	footprintFile  string
	geoFile        string
	tmp            string
	cpuProfile     string
	loadProfile    string
	skipQueries    bool
	outputRepeats  int
	markdown       string
	postgres       bool
	pgRepeats      int
	pgQueryReports int
	pgLog          string
}

func run(args []string) error {
	var o options
	var fleets string
	fs := flag.NewFlagSet("farmwatch-bench", flag.ContinueOnError)
	fs.StringVar(&fleets, "fleets", "1000,10000", "fleet sizes (simulated agents) for the ingest runs")
	fs.DurationVar(&o.duration, "duration", 20*time.Second, "measured time of each ingest run, after the warm-up")
	fs.DurationVar(&o.warmup, "warmup", 5*time.Second, "ingest time before measuring (first reports build clusters)")
	fs.IntVar(&o.concurrency, "concurrency", 128, "report calls in flight")
	fs.IntVar(&o.rawRecords, "raw-records", 200000, "records written by the raw bbolt limit")
	fs.IntVar(&o.queryDevices, "query-devices", 100000, "devices in the query store")
	fs.IntVar(&o.queryReports, "query-reports", 10000000, "reports in the query store")
	fs.IntVar(&o.queryRepeats, "query-repeats", 100, "calls of each list query (devices show: 5x as many); a p99 needs 100")
	fs.StringVar(&o.footprintFile, "footprint", "", "output of the agent footprint benchmark (go test -bench Footprint)")
	fs.StringVar(&o.geoFile, "geo", "", "output of the geo lookup benchmarks (go test -bench Lookup)")
	fs.StringVar(&o.tmp, "tmp", "", "directory for stores and databases (default: a new temporary directory, removed afterwards)")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the collector during the largest ingest run to this file")
	fs.StringVar(&o.loadProfile, "loadprofile", "", "write a CPU profile of the load generator (the simulated agents) during the largest ingest run to this file")
	fs.IntVar(&o.outputRepeats, "output-repeats", 5, "interleaved ingest runs of the smallest fleet with no alert output, a refused and a hung webhook (0: none)")
	fs.BoolVar(&o.skipQueries, "skip-queries", false, "skip the 100,000-device query store")
	fs.StringVar(&o.markdown, "markdown", "", "also write the table as Markdown to this file")
	fs.BoolVar(&o.postgres, "postgres", true, "also measure the collector on PostgreSQL, on a throw-away cluster started here (skipped, with the reason in the table, when PostgreSQL is not installed)")
	fs.StringVar(&o.pgLog, "pg-log", "", "copy the PostgreSQL server's log (serialization failures with the statement and key) to this file at the end")
	fs.IntVar(&o.pgRepeats, "pg-repeats", 3, "interleaved ingest runs of the smallest fleet on bbolt, PostgreSQL with one collector and with two")
	fs.IntVar(&o.pgQueryReports, "pg-query-reports", 1000000, "reports in the query store copied into PostgreSQL (its devices: -query-devices; 0: no PostgreSQL query rows)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	for _, f := range strings.Split(fleets, ",") {
		var n int
		if _, err := fmt.Sscan(strings.TrimSpace(f), &n); err != nil || n < 8 {
			return fmt.Errorf("-fleets: %q is not a fleet size of 8 or more", f)
		}
		o.fleets = append(o.fleets, n)
	}
	if o.pgRepeats < 1 {
		return fmt.Errorf("-pg-repeats: %d: want 1 or more", o.pgRepeats)
	}
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	if o.tmp == "" {
		dir, err := os.MkdirTemp("", "farmwatch-bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		o.tmp = dir
	}
	start := time.Now()
	t := &table{}
	logf("farmwatch-bench: %s, %d CPUs, Go %s", cpuModel(), runtime.NumCPU(), runtime.Version())
	if err := benchIngest(ctx, o, t); err != nil {
		return err
	}
	if !o.skipQueries {
		if err := benchQueries(ctx, o, t); err != nil {
			return err
		}
	}
	if err := benchPostgres(ctx, o, t); err != nil {
		return err
	}
	if o.footprintFile != "" {
		if err := footprintRows(o.footprintFile, t); err != nil {
			return err
		}
	}
	if o.geoFile != "" {
		if err := geoRows(o.geoFile, t); err != nil {
			return err
		}
	}
	fmt.Println()
	fmt.Printf("farmwatch bench: %s, %d CPUs, %s RAM, Go %s, %s\n", cpuModel(), runtime.NumCPU(), memTotal(),
		runtime.Version(), time.Now().UTC().Format("2006-01-02 15:04 UTC"))
	t.print(os.Stdout)
	fmt.Printf("farmwatch-bench took %s\n", time.Since(start).Round(time.Second))
	if o.markdown != "" {
		if err := os.WriteFile(o.markdown, []byte(t.markdown()), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// logf prints progress to stderr, so the table on stdout stays clean.
func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s  %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}

func memTotal() string {
	kb := procStatusField("/proc/meminfo", "MemTotal")
	if kb == 0 {
		return "?"
	}
	return fmt.Sprintf("%.0f GiB", float64(kb)/(1<<20))
}

func self() (string, error) {
	p, err := os.Executable()
	if err != nil {
		return "", err
	}
	return filepath.EvalSymlinks(p)
}
