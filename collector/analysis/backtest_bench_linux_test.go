package analysis_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/farmwatch/farmwatch/collector/analysis"
	"github.com/farmwatch/farmwatch/collector/server"
	"github.com/farmwatch/farmwatch/collector/store"
	"github.com/farmwatch/farmwatch/geo"
	"github.com/farmwatch/farmwatch/geo/geotest"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
	"github.com/farmwatch/farmwatch/sim"
)

// BenchmarkBacktest measures a replay per report: the simulated fleet of
// 1,000 devices (a farm, a VPN exit abroad, a foreign controller, an IP-KVM,
// honest hires) reporting every 5 minutes, b.N reports in all, replayed
// with the default config at a 5-minute interval (a sweep every 1,000
// reports), the source read in short transactions.
//
//	go test -run '^$' -bench Backtest -benchtime 200000x ./collector/analysis/
func BenchmarkBacktest(b *testing.B) {
	dir := b.TempDir()
	city, asn, err := geotest.WriteDatabases(dir, geotest.DemoNetworks())
	if err != nil {
		b.Fatal(err)
	}
	resolver, err := geo.Open(city, asn)
	if err != nil {
		b.Fatal(err)
	}
	defer resolver.Close()
	src, err := store.Open(filepath.Join(dir, "source"), store.Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	defer src.Close()
	fleet := sim.Plan(1000, 1)
	devs := fleet.Devices
	ids := make([]string, len(devs))
	t0 := time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)
	if err := src.Update(func(tx *store.Tx) (err error) {
		for i := range devs {
			if ids[i], err = fleet.StoreDevice(tx, i, t0); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	const interval = 5 * time.Minute
	batch := make([]*pb.StoredReport, 0, 4096)
	for k := range b.N {
		i, round := k%len(devs), k/len(devs)
		at := t0.Add(time.Duration(round) * interval)
		d := devs[i]
		r := d.Report(uint64(round+1), at, round*int(interval)/int(24*time.Hour))
		batch = append(batch, &pb.StoredReport{DeviceId: ids[i], Report: r, ReceivedAt: timestamppb.New(at),
			PublicIp: d.PublicIP.String(), Location: server.Locate(resolver, d.PublicIP), Peers: server.LocatePeers(resolver, r)})
		if len(batch) == cap(batch) || k == b.N-1 {
			if _, err := src.IngestInOrder(batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	cfg := analysis.DefaultConfig()
	cfg.ReportInterval = interval
	b.ReportAllocs()
	cpu0 := cpuTime()
	b.ResetTimer()
	res, err := analysis.Backtest(context.Background(), src, analysis.BacktestOptions{Config: cfg, ScratchDir: dir})
	b.StopTimer()
	cpu := cpuTime() - cpu0
	if err != nil {
		b.Fatal(err)
	}
	if res.GetReports() != uint64(b.N) {
		b.Fatalf("replayed %d of %d reports", res.GetReports(), b.N)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "reports/s")
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/report")
}
