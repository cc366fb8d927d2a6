package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/farmwatch/farmwatch/collector/store"
	"github.com/farmwatch/farmwatch/geo/geotest"
	"github.com/farmwatch/farmwatch/internal/pgcluster"
	"github.com/farmwatch/farmwatch/sim"
)

// The PostgreSQL rows run the collector on a throw-away PostgreSQL cluster
// this tool starts on the same machine (initdb in the temporary directory,
// fsync on as on a production server), beside the bbolt rows of the same
// run. Without PostgreSQL binaries they are left out, and the table says so.

// postgres is the cluster of the PostgreSQL rows.
type postgres struct {
	c   *pgcluster.Cluster
	dbs int
}

// startPostgres starts the cluster; a nil cluster and the reason when the
// PostgreSQL rows are to be skipped.
func startPostgres(o options) (*postgres, string, error) {
	if !o.postgres {
		return nil, "-postgres=false", nil
	}
	c, err := pgcluster.New(
		// A server's memory rather than a test's; fsync stays on.
		pgcluster.Setting("shared_buffers", "'512MB'"),
		pgcluster.Setting("max_wal_size", "'4GB'"),
		pgcluster.Setting("max_connections", "100"),
		pgcluster.Setting("max_pred_locks_per_transaction", "4096"),
		// A statement that fails (a serialization failure above all) is
		// logged with its parameters (bucket, key), for -pg-log.
		pgcluster.Setting("log_parameter_max_length_on_error", "64"),
	)
	if errors.Is(err, pgcluster.ErrNoBinaries) {
		return nil, err.Error() + " (Debian: apt-get install postgresql; or set FARMWATCH_PG_BIN)", nil
	}
	if err != nil {
		return nil, "", fmt.Errorf("PostgreSQL cluster for the PostgreSQL rows: %w", err)
	}
	return &postgres{c: c}, "", nil
}

func (p *postgres) close() { p.c.Remove() }

// database creates a fresh database and returns its URL.
func (p *postgres) database(ctx context.Context, what string) (string, error) {
	p.dbs++
	return p.c.CreateDatabase(ctx, fmt.Sprintf("bench_%s_%d", what, p.dbs))
}

// cpu is the CPU time of the server's processes so far: the postmaster
// with its exited children (autovacuum workers, checkpoints) and the live
// ones (the collectors' connections, the WAL writer, the checkpointer).
func (p *postgres) cpu() time.Duration {
	b, err := os.ReadFile(filepath.Join(p.c.DataDir(), "postmaster.pid"))
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]))
	if err != nil {
		return 0
	}
	total := procCPU(pid) + procChildrenCPU(pid)
	procs, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, f := range procs {
		st, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		fields := statFields(st)
		if len(fields) > 1 && fields[1] == strconv.Itoa(pid) {
			child, _ := strconv.Atoi(filepath.Base(filepath.Dir(f)))
			total += procCPU(child)
		}
	}
	return total
}

// statFields are the fields of /proc/PID/stat after the command name:
// state, ppid, ...
func statFields(b []byte) []string {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 > len(b) {
		return nil
	}
	return strings.Fields(string(b[i+2:]))
}

// procChildrenCPU reads cutime+cstime: the CPU time of a process's children
// that have exited and been waited for.
func procChildrenCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	f := statFields(b)
	if len(f) < 15 {
		return 0
	}
	u, _ := strconv.ParseInt(f[13], 10, 64)
	s, _ := strconv.ParseInt(f[14], 10, 64)
	return time.Duration(u+s) * 10 * time.Millisecond
}

// storeSize is the size of the store's tables with their indexes, TOAST
// and free space (what the database occupies on disk for them), and the
// reports stored.
func storeSize(ctx context.Context, url string) (bytes, reports int64, err error) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return 0, 0, err
	}
	defer conn.Close(ctx)
	// Every table of the store: kv and kv_buckets, and the tables of the
	// buckets kept in their own (reports among them).
	err = conn.QueryRow(ctx, `SELECT (SELECT sum(pg_total_relation_size(c.oid))::int8 FROM pg_class c
			JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = current_schema() AND c.relkind = 'r'),
		(SELECT count(*) FROM reports)`).Scan(&bytes, &reports)
	return bytes, reports, err
}

// pgIngestRun is one ingest run of the interleaved comparison.
type pgIngestRun struct {
	res          ingestResult
	bytes, count int64 // the store's size and reports at the end (PostgreSQL)
}

// benchPostgresIngest runs the smallest fleet's ingest on bbolt, on
// PostgreSQL with one collector and on PostgreSQL with two collectors
// sharing the database, o.pgRepeats times interleaved (so that the
// machine's drift between runs touches all three alike), and adds the
// medians with every run's figure.
func benchPostgresIngest(ctx context.Context, o options, t *table, pg *postgres, city, asn string) error {
	n := slices.Min(o.fleets)
	kinds := []struct {
		name       string
		collectors int // 0: bbolt
	}{{"bbolt", 0}, {"PostgreSQL, 1 collector", 1}, {"PostgreSQL, 2 collectors", 2}}
	runs := make([][]pgIngestRun, len(kinds))
	for rep := range o.pgRepeats {
		for k, kind := range kinds {
			fleet := sim.Plan(n, 1)
			data := filepath.Join(o.tmp, fmt.Sprintf("pg-ingest-%d-%d", rep, k))
			sst := sharedStore{collectors: 1}
			if kind.collectors > 0 {
				url, err := pg.database(ctx, "ingest")
				if err != nil {
					return err
				}
				sst = sharedStore{url: url, collectors: kind.collectors, dbCPU: pg.cpu,
					size: func() (int64, int64, error) { return storeSize(ctx, url) }}
			}
			logf("ingest %d agents on %s, run %d of %d", n, kind.name, rep+1, o.pgRepeats)
			res, err := benchCollectors(ctx, data, city, asn, fleet, templates(fleet), o, "", "", "", sst)
			if err != nil {
				return fmt.Errorf("ingest of %d agents on %s: %w", n, kind.name, err)
			}
			run := pgIngestRun{res: res}
			if sst.url != "" {
				if run.bytes, run.count, err = storeSize(ctx, sst.url); err != nil {
					return fmt.Errorf("size of the PostgreSQL store: %w", err)
				}
				logf("ingest on %s: %d conflict retries (%d in the window), %d calls answered Unavailable, store %d MB for %d reports, PostgreSQL %.0f µs CPU/report",
					kind.name, res.retries, res.windowRetries, res.stats.unavailable, run.bytes>>20, run.count, res.dbCPUPerReport)
			}
			runs[k] = append(runs[k], run)
			os.RemoveAll(data)
			os.RemoveAll(data + "-2")
		}
	}
	med := func(k int, f func(pgIngestRun) float64) (float64, []float64) {
		var v []float64
		for _, r := range runs[k] {
			v = append(v, f(r))
		}
		s := slices.Clone(v)
		slices.Sort(s)
		return s[len(s)/2], v
	}
	rps := func(r pgIngestRun) float64 { return r.res.stats.perSecond() }
	boltRPS, boltAll := med(0, rps)
	what := fmt.Sprintf("%d interleaved runs", o.pgRepeats)
	if o.pgRepeats == 1 {
		what = "1 run"
	}
	agents := thousands(int64(n))
	t.info(fmt.Sprintf("ingest %s agents, bbolt, beside PostgreSQL: reports/s", agents), rate(boltRPS, "/s"),
		fmt.Sprintf("median of %s: %s", what, rates(boltAll)))
	for k := 1; k < len(kinds); k++ {
		v, all := med(k, rps)
		t.info(fmt.Sprintf("ingest %s agents, %s: reports/s", agents, kinds[k].name), rate(v, "/s"),
			fmt.Sprintf("%.0f%% of bbolt's %s; median of %s: %s", 100*v/boltRPS, rate(boltRPS, "/s"), what, rates(all)))
		var p50s, p99s []string
		for _, r := range runs[k] {
			p50s, p99s = append(p50s, ms(r.res.stats.pct(50))), append(p99s, ms(r.res.stats.pct(99)))
		}
		var bp99 []string
		for _, r := range runs[0] {
			bp99 = append(bp99, ms(r.res.stats.pct(99)))
		}
		t.info(fmt.Sprintf("ingest %s agents, %s: ack latency p50 / p99", agents, kinds[k].name),
			strings.Join(p50s, ", ")+" / "+strings.Join(p99s, ", "), "bbolt p99 "+strings.Join(bp99, ", "))
		cpu, _ := med(k, func(r pgIngestRun) float64 { return r.res.cpuPerReport })
		db, _ := med(k, func(r pgIngestRun) float64 { return r.res.dbCPUPerReport })
		bcpu, _ := med(0, func(r pgIngestRun) float64 { return r.res.cpuPerReport })
		t.info(fmt.Sprintf("ingest %s agents, %s: CPU per report", agents, kinds[k].name),
			fmt.Sprintf("collector%s %.0f µs + PostgreSQL %.0f µs", plural(kinds[k].collectors), cpu, db),
			fmt.Sprintf("bbolt's collector %.0f µs; medians", bcpu))
		var retries, unavailable []string
		for _, r := range runs[k] {
			retries = append(retries, fmt.Sprintf("%d", r.res.windowRetries))
			unavailable = append(unavailable, fmt.Sprintf("%d", r.res.stats.unavailable))
		}
		t.info(fmt.Sprintf("ingest %s agents, %s: conflict retries in the window", agents, kinds[k].name), strings.Join(retries, ", "),
			"store transactions run again after a serialization failure or deadlock (farmwatch_store_retries_total); calls answered Unavailable after 24 conflicts in a row, sent again: "+strings.Join(unavailable, ", "))
	}
	// The one-collector store's size: its reports, device records and
	// analysis state of n devices.
	last := runs[1][len(runs[1])-1]
	if last.count > 0 {
		t.info("PostgreSQL bytes per report, ingest store", fmt.Sprintf("%.0f B", float64(last.bytes)/float64(last.count)),
			fmt.Sprintf("%.0f MB tables and indexes (pg_total_relation_size) / %s reports of %s devices, after the ingest", float64(last.bytes)/1e6, thousands(last.count), agents))
	}
	var grown []string
	for _, r := range runs[1] {
		if r.res.grownReports > 0 {
			grown = append(grown, fmt.Sprintf("%.0f B", float64(r.res.grownBytes)/float64(r.res.grownReports)))
		}
	}
	if len(grown) > 0 {
		t.info("PostgreSQL bytes per added report, ingest", strings.Join(grown, ", "),
			fmt.Sprintf("growth of tables and indexes / reports added from the window's start to the end (1 collector, %s devices): the report, its index entry, and the device state rewritten meanwhile", agents))
	}
	return nil
}

func plural(n int) string {
	if n > 1 {
		return "s"
	}
	return ""
}

// benchPostgresQueries builds a query store of o.queryDevices devices and
// o.pgQueryReports reports in bbolt as the bbolt rows do, copies it into a
// fresh database with the store copy code (farmwatch store copy), and runs
// the same admin queries against a collector on that database.
func benchPostgresQueries(ctx context.Context, o options, t *table, pg *postgres) error {
	dir := filepath.Join(o.tmp, "pg-query")
	defer os.RemoveAll(dir)
	devs, nets := queryFleet(o.queryDevices)
	if err := os.MkdirAll(filepath.Join(dir, "geo"), 0o700); err != nil {
		return err
	}
	city, asn, err := geotest.WriteDatabases(filepath.Join(dir, "geo"), nets)
	if err != nil {
		return err
	}
	data := filepath.Join(dir, "data")
	ids, reports, err := buildQueryStore(ctx, data, city, asn, devs, o.pgQueryReports)
	if err != nil {
		return fmt.Errorf("build query store for PostgreSQL: %w", err)
	}
	url, err := pg.database(ctx, "query")
	if err != nil {
		return err
	}
	logf("query store: copying %d devices, %d reports into PostgreSQL", len(devs), reports)
	res, err := store.CopyToPostgres(ctx, data, url, store.CopyOptions{})
	if err != nil {
		return fmt.Errorf("copy the query store into PostgreSQL: %w", err)
	}
	size, count, err := storeSize(ctx, url)
	if err != nil {
		return fmt.Errorf("size of the PostgreSQL query store: %w", err)
	}
	logf("query store copied: %d keys, %d MB, in %s (verified in %s); %d MB in PostgreSQL",
		res.Keys, res.Bytes>>20, res.Copied.Round(time.Second), res.Verified.Round(time.Second), size>>20)
	// The bbolt file is not needed by a collector on --store: only its
	// certificates go into the data dir.
	if err := os.Remove(filepath.Join(data, "farmwatch.db")); err != nil {
		return err
	}
	c, err := queryCollector(ctx, o, t, data, city, asn, ids, reports, "PostgreSQL", "--store", url)
	if c != nil {
		defer c.stop()
	}
	if err != nil {
		return err
	}
	t.info("PostgreSQL bytes per report, query store", fmt.Sprintf("%.0f B", float64(size)/float64(count)),
		fmt.Sprintf("%.2f GB tables and indexes / %s reports of %s devices, after store copy", float64(size)/1e9, thousands(count), thousands(int64(len(devs)))))
	t.info("store copy into PostgreSQL", res.Copied.Round(time.Second).String(),
		fmt.Sprintf("%s keys, %d MB of keys and values (%s keys/s); verified in %s", thousands(res.Keys), res.Bytes>>20,
			thousands(int64(float64(res.Keys)/res.Copied.Seconds())), res.Verified.Round(time.Second)))
	hwm, _, anon := c.memory()
	t.info(fmt.Sprintf("collector resident memory, %s devices, PostgreSQL", thousands(int64(len(devs)))), fmt.Sprintf("%d MiB peak", hwm>>20),
		fmt.Sprintf("heap and stacks %d MiB at the end (no mapped store)", anon>>20))
	return nil
}

// benchPostgres adds the PostgreSQL rows, or one row saying why they were
// skipped.
func benchPostgres(ctx context.Context, o options, t *table) error {
	pg, skipped, err := startPostgres(o)
	if err != nil {
		return err
	}
	if pg == nil {
		logf("PostgreSQL rows skipped: %s", skipped)
		t.info("PostgreSQL rows", "skipped", skipped)
		return nil
	}
	defer pg.close()
	if o.pgLog != "" {
		defer func() {
			if b, err := os.ReadFile(pg.c.LogFile()); err == nil {
				os.WriteFile(o.pgLog, b, 0o644)
			}
		}()
	}
	geoDir := filepath.Join(o.tmp, "pg-geo")
	if err := os.MkdirAll(geoDir, 0o700); err != nil {
		return err
	}
	city, asn, err := geotest.WriteDatabases(geoDir, geotest.DemoNetworks())
	if err != nil {
		return err
	}
	if err := benchPostgresIngest(ctx, o, t, pg, city, asn); err != nil {
		return err
	}
	if o.skipQueries || o.pgQueryReports == 0 {
		return nil
	}
	return benchPostgresQueries(ctx, o, t, pg)
}
