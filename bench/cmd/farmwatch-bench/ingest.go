package main

import (
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/farmwatch/farmwatch/collector/adminconn"
	"github.com/farmwatch/farmwatch/collector/pki"
	"github.com/farmwatch/farmwatch/collector/server"
	"github.com/farmwatch/farmwatch/collector/store"
	"github.com/farmwatch/farmwatch/geo/geotest"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
	"github.com/farmwatch/farmwatch/sim"
)

// The ingest goals of the issue: 10,000 reports/s on two cores and at least
// half of the lower raw limit.
const (
	ingestGoal     = 10000
	rawLimitFactor = 0.5
	rawBoltBatch   = 1000
)

// callStats are the calls completed inside the measured window.
type callStats struct {
	calls     int
	window    time.Duration
	latencies []time.Duration
	errors    int
	firstErr  error
	// unavailable counts the errors that were gRPC Unavailable (a batch
	// the collector gave up, which the agent sends again).
	unavailable int
}

func (s callStats) perSecond() float64 { return float64(s.calls) / s.window.Seconds() }

func (s callStats) pct(p float64) time.Duration {
	if len(s.latencies) == 0 {
		return 0
	}
	l := slices.Clone(s.latencies)
	slices.Sort(l)
	i := int(float64(len(l))*p/100+0.999999) - 1
	return l[min(max(i, 0), len(l)-1)]
}

// drive runs call for devices 0..n-1 with `workers` calls in flight: each
// worker owns every workers-th device and sends for them in turn, with a
// per-device seq counter. Calls are counted when they start after the
// warm-up and end before the window closes.
func drive(ctx context.Context, n, workers int, warmup, window time.Duration, call func(dev int, seq uint64) error) callStats {
	start := time.Now()
	from, to := start.Add(warmup), start.Add(warmup+window)
	var mu sync.Mutex
	st := callStats{window: window}
	var wg sync.WaitGroup
	for w := range min(workers, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var lats []time.Duration
			errs, unavail := 0, 0
			var firstErr error
			seq := map[int]uint64{}
			for i := w; ctx.Err() == nil; i += workers {
				if i >= n {
					i = w
				}
				t0 := time.Now()
				if !t0.Before(to) {
					break
				}
				seq[i]++
				err := call(i, seq[i])
				t1 := time.Now()
				if err != nil {
					errs++
					if status.Code(err) == codes.Unavailable {
						unavail++
					}
					if firstErr == nil {
						firstErr = err
					}
					// The report was not acknowledged: the device sends it
					// again, as an agent's spool does.
					seq[i]--
					continue
				}
				if !t0.Before(from) && t1.Before(to) {
					lats = append(lats, t1.Sub(t0))
				}
			}
			mu.Lock()
			st.latencies = append(st.latencies, lats...)
			st.calls += len(lats)
			st.errors += errs
			st.unavailable += unavail
			if st.firstErr == nil {
				st.firstErr = firstErr
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	return st
}

// forEach calls fn for 0..n-1, workers at a time, and returns the first error.
func forEach(n, workers int, fn func(i int) error) error {
	var mu sync.Mutex
	var first error
	var wg sync.WaitGroup
	next := make(chan int)
	for range min(workers, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := fn(i); err != nil {
					mu.Lock()
					first = cmp.Or(first, err)
					mu.Unlock()
				}
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	return first
}

// templates builds one report per device of the fleet, as its agent would
// take it now; drivers only change seq and time before each send.
func templates(f *sim.Fleet) []*pb.Report {
	now := time.Now()
	out := make([]*pb.Report, len(f.Devices))
	for i, d := range f.Devices {
		out[i] = d.Report(1, now, 0)
	}
	return out
}

func benchIngest(ctx context.Context, o options, t *table) error {
	geoDir := filepath.Join(o.tmp, "geo")
	if err := os.MkdirAll(geoDir, 0o700); err != nil {
		return err
	}
	city, asn, err := geotest.WriteDatabases(geoDir, geotest.DemoNetworks())
	if err != nil {
		return err
	}
	largest := slices.Max(o.fleets)
	var prevN, prevAnon int64 // the previous fleet's size and heap, for memory per agent
	for _, n := range o.fleets {
		fleet := sim.Plan(n, 1)
		tmpl := templates(fleet)
		rawBolt, err := benchRawBolt(filepath.Join(o.tmp, fmt.Sprintf("raw-bolt-%d", n)), fleet, tmpl, o.rawRecords)
		if err != nil {
			return fmt.Errorf("raw bbolt: %w", err)
		}
		logf("raw bbolt, %d devices: %.0f records/s", n, rawBolt)
		echo, err := benchEcho(ctx, filepath.Join(o.tmp, fmt.Sprintf("echo-%d", n)), fleet, tmpl, o, false)
		if err != nil {
			return fmt.Errorf("grpc echo: %w", err)
		}
		logf("grpc echo, %d connections: %.0f calls/s, p50 %s, p99 %s", n, echo.perSecond(), echo.pct(50), echo.pct(99))
		// The same echo with the flow-control setting the collector and the
		// agent use (no bandwidth-estimate PINGs): what grpc-go itself gains
		// from it, shown beside the bare call the goal is measured against.
		echoStatic, err := benchEcho(ctx, filepath.Join(o.tmp, fmt.Sprintf("echo-static-%d", n)), fleet, tmpl, o, true)
		if err != nil {
			return fmt.Errorf("grpc echo, fixed windows: %w", err)
		}
		logf("grpc echo with fixed windows, %d connections: %.0f calls/s, p50 %s, p99 %s", n, echoStatic.perSecond(), echoStatic.pct(50), echoStatic.pct(99))
		profile, loadProfile := "", ""
		if n == largest {
			profile, loadProfile = o.cpuProfile, o.loadProfile
		}
		ing, err := benchCollector(ctx, filepath.Join(o.tmp, fmt.Sprintf("ingest-%d", n)), city, asn, fleet, tmpl, o, profile, loadProfile, "")
		if err != nil {
			return fmt.Errorf("ingest of %d agents: %w", n, err)
		}
		lower := min(rawBolt, echo.perSecond())
		rps := ing.stats.perSecond()
		t.add(fmt.Sprintf("ingest %s agents: reports/s", thousands(int64(n))), rate(rps, "/s"),
			fmt.Sprintf("raw bbolt %s, grpc echo %s (%.0f%% of lower)", rate(rawBolt, "/s"), rate(echo.perSecond(), "/s"), 100*rps/lower),
			fmt.Sprintf(">= %s and >= %.0f%% of lower", thousands(ingestGoal), 100*rawLimitFactor),
			rps >= ingestGoal && rps >= rawLimitFactor*lower)
		t.info(fmt.Sprintf("ingest %s agents: ack latency p50 / p99", thousands(int64(n))),
			ms(ing.stats.pct(50))+" / "+ms(ing.stats.pct(99)),
			"grpc echo "+ms(echo.pct(50))+" / "+ms(echo.pct(99)))
		t.info(fmt.Sprintf("grpc echo %s connections, fixed flow-control windows", thousands(int64(n))), rate(echoStatic.perSecond(), "/s"),
			fmt.Sprintf("bare grpc echo %s; ingest is %.0f%% of this", rate(echo.perSecond(), "/s"), 100*rps/echoStatic.perSecond()))
		t.info(fmt.Sprintf("ingest %s agents: collector CPU per report", thousands(int64(n))),
			fmt.Sprintf("%.0f µs", ing.cpuPerReport), fmt.Sprintf("load generator (the simulated agents) %.0f µs on the same cores; %d report calls in flight, analysis on",
				ing.loadCPUPerReport, o.concurrency))
		memWhat := fmt.Sprintf("heap and stacks %d MiB at the end", ing.anon>>20)
		if prevN > 0 && int64(n) > prevN {
			// The collector's fixed part (gazetteer, caches) cancels out.
			memWhat += fmt.Sprintf(", %d KiB more per connected agent than with %s", (ing.anon-prevAnon)>>10/(int64(n)-prevN), thousands(prevN))
		}
		prevN, prevAnon = int64(n), ing.anon
		t.info(fmt.Sprintf("ingest %s agents: collector resident memory", thousands(int64(n))), fmt.Sprintf("%d MiB peak", ing.hwm>>20), memWhat)
		t.info(fmt.Sprintf("enroll %s agents (ECDSA CSR + signing)", thousands(int64(n))),
			rate(float64(n)/ing.enroll.Seconds(), "/s"), fmt.Sprintf("register %s hires + tokens: %s; reports/s of 1st report (TLS handshake) %s, 2nd (farm forms) %s",
				thousands(int64(n)), ing.register.Round(100*time.Millisecond), thousands(int64(float64(n)/ing.rounds[0].Seconds())), thousands(int64(float64(n)/ing.rounds[1].Seconds()))))
	}
	return benchDeadOutputs(ctx, o, t, city, asn)
}

type ingestResult struct {
	stats            callStats
	cpuPerReport     float64 // µs of the collector
	loadCPUPerReport float64 // µs of this process: the simulated agents
	enroll, register time.Duration
	rounds           [2]time.Duration // first and second report of every device
	hwm, anon        int64            // the collector's peak resident set, and its heap and stacks at the end
	// sinks is the outputs' delivery state at the end of a run with outputs.
	sinks []*pb.AlertSink
	// retries and windowRetries are the store's conflict retries of all
	// collectors over the whole run and in the measured window (PostgreSQL).
	retries, windowRetries int64
	// dbCPUPerReport is the µs of the PostgreSQL server's processes per
	// report in the window (0: not measured).
	dbCPUPerReport float64
	// grownBytes and grownReports are what the store grew by from the
	// start of the window to the end of the run (sharedStore.size).
	grownBytes, grownReports int64
}

// outputs, when set, is an alert outputs file the collector delivers to
// (farmwatch serve --outputs).
func benchCollector(ctx context.Context, data, city, asn string, fleet *sim.Fleet, tmpl []*pb.Report, o options, profile, loadProfilePath, outputs string) (ingestResult, error) {
	return benchCollectors(ctx, data, city, asn, fleet, tmpl, o, profile, loadProfilePath, outputs, sharedStore{collectors: 1})
}

// sharedStore is where the collectors of an ingest run keep their store: in
// their data dir (bbolt, one collector), or in the PostgreSQL database url
// shared by collectors (1 or 2) whose server's processes are counted by
// dbCPU (nil: not counted).
type sharedStore struct {
	url        string
	collectors int
	dbCPU      func() time.Duration
	// size reads the store's size and report count (nil: not read).
	size func() (bytes, reports int64, err error)
}

// benchCollectors is benchCollector on the store st. With two collectors the
// second shares the first's CA and database, and the devices are split
// between them alternately (enrolled with, and reporting to, one each), so
// the members of a farm report to both.
func benchCollectors(ctx context.Context, data, city, asn string, fleet *sim.Fleet, tmpl []*pb.Report, o options, profile, loadProfilePath, outputs string, sst sharedStore) (ingestResult, error) {
	var res ingestResult
	args := []string{"collector", "--data", data, "--geoip-city", city, "--geoip-asn", asn}
	if profile != "" {
		args = append(args, "--cpuprofile", profile)
	}
	if outputs != "" {
		args = append(args, "--outputs", outputs)
	}
	if sst.url != "" {
		args = append(args, "--store", sst.url)
	}
	var loadProfile *os.File
	if loadProfilePath != "" {
		f, err := os.Create(loadProfilePath)
		if err != nil {
			return res, err
		}
		defer f.Close()
		loadProfile = f
	}
	c, err := startChild(args...)
	if err != nil {
		return res, err
	}
	defer c.stop()
	addr, err := c.waitFile(filepath.Join(data, server.AddrFile))
	if err != nil {
		return res, err
	}
	cs, datas, addrs := []*child{c}, []string{data}, []string{addr}
	if sst.collectors > 1 {
		// Started once the first has applied the schema.
		data2 := data + "-2"
		tlsDir := filepath.Join(data, "tls")
		c2, err := startChild("collector", "--data", data2, "--geoip-city", city, "--geoip-asn", asn, "--store", sst.url,
			"--ca-cert", filepath.Join(tlsDir, pki.CAFile), "--ca-key", filepath.Join(tlsDir, pki.CAKeyFile))
		if err != nil {
			return res, err
		}
		defer c2.stop()
		addr2, err := c2.waitFile(filepath.Join(data2, server.AddrFile))
		if err != nil {
			return res, err
		}
		cs, datas, addrs = append(cs, c2), append(datas, data2), append(addrs, addr2)
	}
	cpuOf := func() time.Duration {
		var d time.Duration
		for _, c := range cs {
			d += c.cpu()
		}
		return d
	}
	admin, closeAdmin, err := adminconn.Dial(adminconn.Options{Data: data})
	if err != nil {
		return res, err
	}
	defer closeAdmin()
	fp, err := adminconn.Options{Data: data}.CAFingerprint()
	if err != nil {
		return res, err
	}
	n := len(fleet.Devices)
	t0 := time.Now()
	if err := fleet.Register(ctx, admin); err != nil {
		return res, err
	}
	res.register = time.Since(t0)
	t0 = time.Now()
	for k, addr := range addrs {
		part := &sim.Fleet{}
		for i := k; i < n; i += len(addrs) {
			part.Devices = append(part.Devices, fleet.Devices[i])
		}
		if err := part.Enroll(ctx, addr, fp, 64); err != nil {
			return res, err
		}
	}
	defer fleet.Close()
	res.enroll = time.Since(t0)
	logf("collector, %d agents: registered in %s, enrolled in %s", n, res.register.Round(time.Millisecond), res.enroll.Round(time.Millisecond))

	// Each device's first report opens its connection (a mutual-TLS
	// handshake); its second links it to the devices that share its network
	// (min_link_reports is 2), so the farm forms. Agents keep their
	// connection and farms form once, so the measured window starts after.
	for round := range 2 {
		t0 = time.Now()
		if err := forEach(n, o.concurrency, func(i int) error {
			r := tmpl[i]
			r.Seq, r.CollectedAt = uint64(round+1), timestamppb.Now()
			_, err := fleet.Devices[i].Send(ctx, []*pb.Report{r})
			return err
		}); err != nil {
			return res, fmt.Errorf("report %d of each device: %w", round+1, err)
		}
		res.rounds[round] = time.Since(t0)
		logf("collector, %d agents: report %d of each device in %s", n, round+1, res.rounds[round].Round(time.Millisecond))
	}

	var cpu0, load0, db0 time.Duration
	var size0, count0 int64
	var sizeErr error
	var profiling atomic.Bool
	// windowStarted is closed once cpu0 and load0 are taken (or the run was
	// cancelled): they are read only after it, however late a loaded
	// machine runs this goroutine.
	windowStarted := make(chan struct{})
	go func() {
		defer close(windowStarted)
		// The profiles and the CPU counts start with the measured window.
		select {
		case <-time.After(o.warmup):
			cpu0, load0 = cpuOf(), procCPU(os.Getpid())
			if sst.dbCPU != nil {
				db0 = sst.dbCPU()
			}
			if sst.size != nil {
				size0, count0, sizeErr = sst.size()
			}
			for _, c := range cs {
				c.signal(syscall.SIGUSR1)
			}
			if loadProfile != nil {
				profiling.Store(pprof.StartCPUProfile(loadProfile) == nil)
			}
		case <-ctx.Done():
		}
	}()
	st := drive(ctx, n, o.concurrency, o.warmup, o.duration, func(i int, seq uint64) error {
		r := tmpl[i]
		r.Seq, r.CollectedAt = seq+2, timestamppb.Now()
		resp, err := fleet.Devices[i].Send(ctx, []*pb.Report{r})
		if err == nil && len(resp.GetAcknowledged()) != 1 {
			err = fmt.Errorf("device %d seq %d: %d acknowledged", i, seq, len(resp.GetAcknowledged()))
		}
		return err
	})
	<-windowStarted
	cpu, load := cpuOf()-cpu0, procCPU(os.Getpid())-load0
	var db time.Duration
	if sst.dbCPU != nil {
		db = sst.dbCPU() - db0
	}
	res.hwm, _, res.anon = c.memory()
	if profiling.Load() {
		pprof.StopCPUProfile()
	}
	// On PostgreSQL a batch that kept conflicting is answered Unavailable
	// and sent again (drive does); those are counted, anything else fails.
	if st.errors > 0 && (sst.url == "" || st.errors > st.unavailable) {
		return res, fmt.Errorf("%d report calls failed, first: %v", st.errors, st.firstErr)
	}
	res.stats = st
	if outputs != "" {
		ws, err := admin.ListWebhooks(ctx, &pb.ListWebhooksRequest{})
		if err != nil {
			return res, fmt.Errorf("outputs' state: %w", err)
		}
		res.sinks = ws.GetSinks()
	}
	res.cpuPerReport = float64(cpu.Microseconds()) / float64(max(st.calls, 1))
	res.loadCPUPerReport = float64(load.Microseconds()) / float64(max(st.calls, 1))
	res.dbCPUPerReport = float64(db.Microseconds()) / float64(max(st.calls, 1))
	if sst.size != nil && sizeErr == nil {
		size1, count1, err := sst.size()
		if err != nil {
			return res, fmt.Errorf("store size: %w", err)
		}
		res.grownBytes, res.grownReports = size1-size0, count1-count0
	}
	if sst.url != "" {
		for k, c := range cs {
			if err := c.stop(); err != nil {
				return res, fmt.Errorf("collector %d: %w\n%s", k+1, err, c.logs.String())
			}
			all, window, err := readRetries(datas[k])
			if err != nil {
				return res, fmt.Errorf("collector %d's store retries: %w", k+1, err)
			}
			res.retries += all
			res.windowRetries += window
		}
	}
	logf("collector, %d agents: %.0f reports/s, p50 %s, p99 %s, %.0f µs CPU/report (load generator %.0f µs)", n, st.perSecond(), st.pct(50), st.pct(99),
		res.cpuPerReport, res.loadCPUPerReport)
	return res, nil
}

// benchRawBolt writes records of the fleet's encoded reports in the store's
// layout (time-ordered reports bucket plus the device+spool+seq index, store.ReportIndexKey), devices
// interleaved, rawBoltBatch per transaction with fsync, from one writer: the
// most this disk and bbolt do with these bytes.
func benchRawBolt(dir string, fleet *sim.Fleet, tmpl []*pb.Report, records int) (float64, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	n := len(fleet.Devices)
	values := make([][]byte, n)
	ids := make([]string, n)
	now := time.Now()
	for i, r := range tmpl {
		ids[i] = fmt.Sprintf("d-%016x", uint64(i)*0x9e3779b97f4a7c15)
		sr := &pb.StoredReport{Report: r, ReceivedAt: timestamppb.New(now), PublicIp: fleet.Devices[i].PublicIP.String(), DeviceId: ids[i],
			Location: &pb.IPLocation{Country: "US", City: "Austin", Latitude: 30.27, Longitude: -97.74, AccuracyKm: 20,
				TimeZone: "America/Chicago", Asn: 11427, AsOrg: "Charter Communications Inc", Geolocatable: true}}
		var err error
		if values[i], err = store.EncodeReport(sr); err != nil {
			return 0, err
		}
	}
	db, err := bolt.Open(filepath.Join(dir, "raw.db"), 0o600, &bolt.Options{FreelistType: bolt.FreelistMapType})
	if err != nil {
		return 0, err
	}
	defer db.Close()
	reportsB, indexB := []byte("reports"), []byte("devices")
	if err := db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{reportsB, indexB} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return 0, err
	}
	start := time.Now()
	for done := 0; done < records; {
		if err := db.Update(func(tx *bolt.Tx) error {
			rb, ib := tx.Bucket(reportsB), tx.Bucket(indexB)
			for j := 0; j < rawBoltBatch && done < records; j, done = j+1, done+1 {
				dev := done % n
				rkey := binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, uint64(time.Now().UnixNano())), uint64(done))
				ikey := store.ReportIndexKey(ids[dev], 1, uint64(done/n+1)) // an agent's first spool
				if err := rb.Put(rkey, values[dev]); err != nil {
					return err
				}
				if err := ib.Put(ikey, rkey); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			return 0, err
		}
	}
	return float64(records) / time.Since(start).Seconds(), nil
}

// benchEcho measures a bare grpc-go unary call over mutual TLS on loopback
// with the fleet's report requests as payload, one connection per device and
// the same calls in flight as the ingest run.
func benchEcho(ctx context.Context, dir string, fleet *sim.Fleet, tmpl []*pb.Report, o options, staticWindows bool) (callStats, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return callStats{}, err
	}
	defer os.RemoveAll(dir)
	ca, _, err := pki.LoadOrCreateCA(dir)
	if err != nil {
		return callStats{}, err
	}
	args := []string{"echo-server", "--dir", dir}
	dialOpts := []grpc.DialOption{}
	if staticWindows {
		args = append(args, "--static-windows")
		dialOpts = append(dialOpts, grpc.WithStaticStreamWindowSize(64<<10), grpc.WithStaticConnWindowSize(64<<10))
	}
	c, err := startChild(args...)
	if err != nil {
		return callStats{}, err
	}
	defer c.stop()
	addr, err := c.waitFile(filepath.Join(dir, "echo.addr"))
	if err != nil {
		return callStats{}, err
	}
	certPEM, keyPEM, err := ca.IssueAdmin("bench-client", pki.RoleReviewer, time.Hour)
	if err != nil {
		return callStats{}, err
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return callStats{}, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	creds := credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: pool,
		ServerName: "127.0.0.1", MinVersion: tls.VersionTLS13})
	n := len(fleet.Devices)
	conns := make([]*grpc.ClientConn, n)
	for i := range conns {
		if conns[i], err = grpc.NewClient(addr, append([]grpc.DialOption{grpc.WithTransportCredentials(creds)}, dialOpts...)...); err != nil {
			return callStats{}, err
		}
		defer conns[i].Close()
	}
	// Connect every device first, as the ingest run's devices are after enrollment.
	if err := forEach(n, 64, func(i int) error {
		return conns[i].Invoke(ctx, echoMethod, &pb.ReportRequest{Reports: []*pb.Report{tmpl[i]}}, &pb.ReportResponse{})
	}); err != nil {
		return callStats{}, err
	}
	st := drive(ctx, n, o.concurrency, o.warmup, o.duration, func(i int, seq uint64) error {
		r := tmpl[i]
		r.Seq, r.CollectedAt = seq, timestamppb.Now()
		resp := &pb.ReportResponse{}
		if err := conns[i].Invoke(ctx, echoMethod, &pb.ReportRequest{Reports: []*pb.Report{r}}, resp); err != nil {
			return err
		}
		if len(resp.GetAcknowledged()) != 1 {
			return fmt.Errorf("echo acknowledged %d", len(resp.GetAcknowledged()))
		}
		return nil
	})
	if st.errors > 0 {
		return st, fmt.Errorf("%d echo calls failed, first: %v", st.errors, st.firstErr)
	}
	return st, nil
}
