package analysis_test

import (
	"flag"
	"fmt"
	"os"
	"runtime/pprof"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/farmwatch/farmwatch/collector/analysis"
	"github.com/farmwatch/farmwatch/collector/server"
	"github.com/farmwatch/farmwatch/collector/store"
	"github.com/farmwatch/farmwatch/geo"
	"github.com/farmwatch/farmwatch/geo/geotest"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
	"github.com/farmwatch/farmwatch/sim"
)

var writerProfile = flag.String("writer.cpuprofile", "", "write a CPU profile of BenchmarkIngestWriter's measured part (not its set-up) to this file")

// BenchmarkIngestWriter measures the store's writer with the rules on, as
// the collector runs it (fsync on, one transaction per batch of waiting
// calls), without gRPC: the simulated fleet's reports, already validated and
// located, from 128 concurrent callers. Besides the wall time per report it
// reports the process CPU time per report and the pages bbolt writes per
// report, the two figures the ingest rate of `make bench` follows.
//
//	go test -run '^$' -bench IngestWriter -benchtime 20000x ./collector/analysis/
//
// The farm forms in the set-up (two reports per device), which at 10,000
// devices costs more than the measured part: profile with -writer.cpuprofile,
// not -cpuprofile.
func BenchmarkIngestWriter(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("devices=%d", n), func(b *testing.B) { benchIngestWriter(b, n) })
	}
}

func benchIngestWriter(b *testing.B, n int) {
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
	engine := analysis.NewEngine(analysis.DefaultConfig())
	st, err := store.Open(dir, store.Options{Analyze: engine.Analyze})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()

	fleet := sim.Plan(n, 1)
	devs := fleet.Devices
	ids := make([]string, len(devs))
	now := time.Now()
	if err := st.Update(func(tx *store.Tx) (err error) {
		for i := range devs {
			if ids[i], err = fleet.StoreDevice(tx, i, now); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	tmpl := make([]*pb.Report, len(devs))
	locs := make([]*pb.IPLocation, len(devs))
	peers := make([][]*pb.PeerLocation, len(devs))
	for i, d := range devs {
		tmpl[i] = d.Report(1, now, 0)
		locs[i] = server.Locate(resolver, d.PublicIP)
		peers[i] = server.LocatePeers(resolver, tmpl[i])
	}
	// Reports are built before they are timed: report k goes to device
	// k mod n, with that device's next seq.
	seqs := make([]uint64, len(devs))
	build := func(count int) []*pb.StoredReport {
		out := make([]*pb.StoredReport, count)
		for k := range out {
			i := k % len(devs)
			seqs[i]++
			r := proto.Clone(tmpl[i]).(*pb.Report)
			r.Seq = seqs[i]
			out[k] = &pb.StoredReport{Report: r, PublicIp: devs[i].PublicIP.String(), Location: locs[i], Peers: peers[i]}
		}
		return out
	}
	const callers = 128
	send := func(reports []*pb.StoredReport) {
		var wg sync.WaitGroup
		for w := range callers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for k := w; k < len(reports); k += callers {
					sr := reports[k]
					at := timestamppb.Now()
					sr.Report.CollectedAt, sr.ReceivedAt = at, at
					res, err := st.Ingest(ids[k%len(devs)], []*pb.StoredReport{sr})
					if err != nil || len(res.Acknowledged) != 1 {
						b.Errorf("report %d: %v, %d acknowledged", k, err, len(res.Acknowledged))
						return
					}
				}
			}()
		}
		wg.Wait()
	}
	// Two reports per device link the farm (min_link_reports is 2).
	send(build(2 * len(devs)))
	reports := build(b.N)

	stats0 := st.DB().Stats()
	cpu0 := cpuTime()
	if *writerProfile != "" {
		f, err := os.Create(*writerProfile)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	send(reports)
	b.StopTimer()
	if *writerProfile != "" {
		pprof.StopCPUProfile()
	}
	cpu := cpuTime() - cpu0
	stats := st.DB().Stats()
	pages := stats.TxStats.GetWrite() - stats0.TxStats.GetWrite()
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/report")
	b.ReportMetric(float64(pages)/float64(b.N), "pages/report")
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
