package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/farmwatch/farmwatch/collector/adminconn"
	"github.com/farmwatch/farmwatch/collector/analysis"
	"github.com/farmwatch/farmwatch/collector/server"
	"github.com/farmwatch/farmwatch/collector/store"
	"github.com/farmwatch/farmwatch/geo"
	"github.com/farmwatch/farmwatch/geo/geotest"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
	"github.com/farmwatch/farmwatch/sim"
)

// Query goals of the issue.
const (
	queryP99Goal = 100 * time.Millisecond
	// queryBudget bounds the time of one query's repeated calls.
	queryBudget = 2 * time.Minute
	rssGoal     = 1 << 30
	// analysedRounds of every device's reports go through the rules (so the
	// store holds the device state, fingerprints, clusters and alerts a
	// collector builds); the rest are appended with analysis off.
	analysedRounds = 2
	// bulkJob reports per ingest job in the bulk part: an agent delivering
	// a spooled batch.
	bulkJob = 10
)

// queryFleet lays out the query store's devices: 100 small simulator plans
// of 50 (each with a laptop farm of 5, a VPN user, a foreign controller, an
// IP-KVM and honest hires), and honest hires cloned from them for the rest,
// each on its own home network in its claimed city. It returns the devices
// and the geo networks that place them.
func queryFleet(n int) ([]*sim.Device, []geotest.Network) {
	nets := geotest.DemoNetworks()
	var devs, honest []*sim.Device
	for p := 0; p < 100 && len(devs) < n; p++ {
		for _, d := range sim.Plan(50, uint64(p+1)).Devices {
			d.Hire.Id = fmt.Sprintf("p%03d-%s", p, d.Hire.GetId())
			devs = append(devs, d)
			if d.Scenario == sim.Honest {
				honest = append(honest, d)
			}
		}
	}
	// Each home city gets a /16 of its own next to the demo's /24.
	wide := map[int]netip.Prefix{}
	for i := 0; len(devs) < n; i++ {
		t := honest[i%len(honest)]
		ni := -1
		for j, nw := range nets[:len(geotest.DemoNetworks())] {
			if netip.MustParsePrefix(nw.Prefix).Contains(t.PublicIP) {
				ni = j
			}
		}
		p, ok := wide[ni]
		if !ok {
			p = netip.PrefixFrom(netip.AddrFrom4([4]byte{24, byte(len(wide)), 0, 0}), 16)
			wide[ni] = p
			nw := nets[ni]
			nw.Prefix = p.String()
			nets = append(nets, nw)
		}
		d := *t
		d.Hire = proto.Clone(t.Hire).(*pb.Hire)
		d.Hire.Id = fmt.Sprintf("h-%06d", i)
		d.Hire.Email = fmt.Sprintf("hire%06d@example.com", i)
		k := i / len(wide) // host number inside the city's /16
		a := p.Addr().As4()
		d.PublicIP = netip.AddrFrom4([4]byte{a[0], a[1], byte(k >> 8), byte(k)})
		d.Hostname = fmt.Sprintf("laptop-%06d", i)
		d.GatewayMA = fmt.Sprintf("3c:37:86:%02x:%02x:%02x", byte(i>>16), byte(i>>8), byte(i))
		d.BSSID = fmt.Sprintf("3c:37:87:%02x:%02x:%02x", byte(i>>16), byte(i>>8), byte(i))
		d.SSID = fmt.Sprintf("HOME-%06d", i)
		devs = append(devs, &d)
	}
	return devs, nets
}

func benchQueries(ctx context.Context, o options, t *table) error {
	dir := filepath.Join(o.tmp, "query")
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
	start := time.Now()
	ids, reports, err := buildQueryStore(ctx, data, city, asn, devs, o.queryReports)
	if err != nil {
		return fmt.Errorf("build query store: %w", err)
	}
	built := time.Since(start)
	fi, err := os.Stat(filepath.Join(data, "farmwatch.db"))
	if err != nil {
		return err
	}
	perReport := float64(fi.Size()) / float64(reports)
	logf("query store: %d devices, %d reports, %.1f GB in %s", len(devs), reports, float64(fi.Size())/1e9, built.Round(time.Second))

	c, err := queryCollector(ctx, o, t, data, city, asn, ids, reports, "")
	if c != nil {
		defer c.stop()
	}
	if err != nil {
		return err
	}
	t.info("bytes on disk per report", fmt.Sprintf("%.0f B", perReport),
		fmt.Sprintf("%.1f GB file / %s reports (values, index, device state)", float64(fi.Size())/1e9, thousands(int64(reports))))
	hwm, rss, anon := c.memory()
	t.add(fmt.Sprintf("collector resident memory, %s devices", thousands(int64(len(devs)))), fmt.Sprintf("%d MiB peak", hwm>>20),
		fmt.Sprintf("now %d MiB, of which heap and stacks %d MiB (the rest is mapped store pages)", rss>>20, anon>>20),
		"< 1 GiB", hwm < rssGoal)
	t.info("query store build (direct, no fsync)", built.Round(time.Second).String(),
		fmt.Sprintf("%s reports/s, first %d reports per device through the rules", thousands(int64(float64(reports)/built.Seconds())), analysedRounds))
	return nil
}

// runQueries times the admin queries against a collector whose store holds
// the devices ids and reports; backend names the store in the rows ("":
// bbolt, as the rows always were).
// queryCollector starts a collector on the query store in data (extra
// flags choose its backend: --store for PostgreSQL) and runs the admin
// queries against it, labelled with backend. The collector is returned
// still running, for its memory figures: the caller stops it, also after
// an error.
func queryCollector(ctx context.Context, o options, t *table, data, city, asn string, ids []string, reports int, backend string, extra ...string) (*child, error) {
	c, err := startChild(append([]string{"collector", "--data", data, "--geoip-city", city, "--geoip-asn", asn}, extra...)...)
	if err != nil {
		return nil, err
	}
	if _, err := c.waitFile(filepath.Join(data, server.AddrFile)); err != nil {
		return c, err
	}
	admin, closeAdmin, err := adminconn.Dial(adminconn.Options{Data: data})
	if err != nil {
		return c, err
	}
	defer closeAdmin()
	return c, runQueries(ctx, o, t, admin, ids, reports, backend)
}

func runQueries(ctx context.Context, o options, t *table, admin pb.AdminServiceClient, ids []string, reports int, backend string) error {
	rng := rand.New(rand.NewPCG(7, 8))
	type query struct {
		name  string
		n     int
		call  func() (int, error)
		items string
	}
	var alerts, clusters int
	queries := []query{
		{"alerts list", o.queryRepeats, func() (int, error) {
			r, err := admin.ListAlerts(ctx, &pb.ListAlertsRequest{})
			alerts = len(r.GetAlerts())
			return proto.Size(r), err
		}, "alerts"},
		{"clusters list", o.queryRepeats, func() (int, error) {
			r, err := admin.ListClusters(ctx, &pb.ListClustersRequest{})
			clusters = len(r.GetClusters())
			return proto.Size(r), err
		}, "clusters"},
		{"devices show", 5 * o.queryRepeats, func() (int, error) {
			r, err := admin.GetDevice(ctx, &pb.GetDeviceRequest{Id: ids[rng.IntN(len(ids))]})
			return proto.Size(r), err
		}, "device"},
	}
	for _, q := range queries {
		var st callStats
		size := 0
		// A query far slower than its goal stops after queryBudget: its
		// p99 is then the slowest of fewer calls, which the row says.
		start := time.Now()
		for range q.n {
			if len(st.latencies) > 0 && time.Since(start) > queryBudget {
				break
			}
			t0 := time.Now()
			n, err := q.call()
			if err != nil {
				return fmt.Errorf("%s: %w", q.name, err)
			}
			st.latencies = append(st.latencies, time.Since(t0))
			size = max(size, n)
		}
		what := fmt.Sprintf("%d calls", q.n)
		switch q.name {
		case "alerts list":
			what = fmt.Sprintf("%d alerts, %d KB", alerts, size>>10)
		case "clusters list":
			what = fmt.Sprintf("%d clusters, %d KB", clusters, size>>10)
		case "devices show":
			what = fmt.Sprintf("random devices, 20 reports each, %d KB", size>>10)
		}
		// The first call after the collector started finds its caches cold
		// (every cluster still to decode, store pages still to fault in): it
		// is one of the calls, and shown on its own as well.
		what += ", first call " + ms(st.latencies[0])
		on := ""
		if backend != "" {
			on = ", " + backend
		}
		logf("%s%s: p50 %s, p99 %s (%s)", q.name, on, st.pct(50), st.pct(99), what)
		t.add(fmt.Sprintf("query `%s`%s p50 / p99", q.name, on), ms(st.pct(50))+" / "+ms(st.pct(99)),
			fmt.Sprintf("%s devices, %s reports, %d calls; %s", thousands(int64(len(ids))), thousands(int64(reports)), len(st.latencies), what),
			"p99 < 100 ms", st.pct(99) < queryP99Goal)
	}
	return nil
}

// buildQueryStore writes the query store through the store's own ingest
// path, without fsync: devices and hires first, then analysedRounds of
// reports per device through the rules, then the rest with analysis off.
// It returns the device ids and the number of reports stored.
func buildQueryStore(ctx context.Context, data, city, asn string, devs []*sim.Device, total int) ([]string, int, error) {
	resolver, err := geo.Open(city, asn)
	if err != nil {
		return nil, 0, err
	}
	defer resolver.Close()
	engine := analysis.NewEngine(analysis.DefaultConfig())
	st, err := store.Open(data, store.Options{Analyze: engine.Analyze, NoSync: true, MaxBatchReports: 20000})
	if err != nil {
		return nil, 0, err
	}
	n := len(devs)
	ids := make([]string, n)
	fleet := &sim.Fleet{Devices: devs}
	perDevice := max(total/n, analysedRounds+1)
	start := time.Now().Add(-time.Duration(perDevice) * time.Hour).Truncate(time.Hour)
	for lo := 0; lo < n; lo += 10000 {
		if err := st.Update(func(tx *store.Tx) (err error) {
			for i := lo; i < min(lo+10000, n); i++ {
				if ids[i], err = fleet.StoreDevice(tx, i, start); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			st.Close()
			return nil, 0, err
		}
	}
	// One report per device, built once; each send changes its seq and time.
	tmpl := make([]*pb.Report, n)
	locs := make([]*pb.IPLocation, n)
	peers := make([][]*pb.PeerLocation, n)
	if err := forEach(n, 4, func(i int) error {
		tmpl[i] = devs[i].Report(1, start, 0)
		locs[i] = server.Locate(resolver, devs[i].PublicIP)
		peers[i] = server.LocatePeers(resolver, tmpl[i])
		return nil
	}); err != nil {
		st.Close()
		return nil, 0, err
	}
	stored := func(i int, seq uint64, at time.Time) *pb.StoredReport {
		// A shallow copy: reports of one device share their unchanged parts.
		r := &pb.Report{}
		tmpl[i].ProtoReflect().Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
			r.ProtoReflect().Set(fd, v)
			return true
		})
		r.Seq, r.CollectedAt = seq, timestamppb.New(at)
		return &pb.StoredReport{Report: r, ReceivedAt: timestamppb.New(at), PublicIp: devs[i].PublicIP.String(),
			Location: locs[i], Peers: peers[i]}
	}
	at := func(round, i int) time.Time {
		return start.Add(time.Duration(round)*time.Hour + time.Duration(i)*time.Hour/time.Duration(n))
	}
	count := 0
	for round := range analysedRounds {
		if err := forEach(n, 256, func(i int) error {
			_, err := st.Ingest(ids[i], []*pb.StoredReport{stored(i, uint64(round+1), at(round, i))})
			return err
		}); err != nil {
			st.Close()
			return nil, 0, err
		}
		count += n
		logf("query store: %d reports through the rules", count)
	}
	if err := st.Close(); err != nil {
		return nil, 0, err
	}
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	// The rest: spooled batches of bulkJob hourly reports, round after round.
	st, err = store.Open(data, store.Options{NoSync: true, MaxBatchReports: 50000})
	if err != nil {
		return nil, 0, err
	}
	defer st.Close()
	for round := analysedRounds; round < perDevice && ctx.Err() == nil; round += bulkJob {
		k := min(bulkJob, perDevice-round)
		if err := forEach(n, 2048, func(i int) error {
			batch := make([]*pb.StoredReport, k)
			recv := at(round+k-1, i)
			for j := range k {
				batch[j] = stored(i, uint64(round+j+1), at(round+j, i))
				batch[j].ReceivedAt = timestamppb.New(recv)
			}
			_, err := st.Ingest(ids[i], batch)
			return err
		}); err != nil {
			return nil, 0, err
		}
		count += n * k
		logf("query store: %d reports", count)
	}
	return ids, count, ctx.Err()
}
