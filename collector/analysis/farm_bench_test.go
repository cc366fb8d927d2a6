package analysis

import (
	"fmt"
	"testing"
	"time"

	"github.com/farmwatch/farmwatch/collector/store"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// BenchmarkFarmForms measures a farm of n devices forming on one store
// (bbolt, fsync off): each device's reports on the farm's router, Wi-Fi and
// public IP until it is linked, one transaction per report. Each join
// rewrites the cluster's record; it reports the time and the write calls
// bbolt makes per joining device, and the record's size once the farm is
// whole.
//
//	go test -run '^$' -bench FarmForms -benchtime 3x ./collector/analysis/
func BenchmarkFarmForms(b *testing.B) {
	for _, n := range []int{100, 1000} {
		b.Run(fmt.Sprintf("devices=%d", n), func(b *testing.B) {
			var writes, record int
			for range b.N {
				b.StopTimer()
				st, err := store.Open(b.TempDir(), store.Options{Analyze: NewEngine(DefaultConfig()).Analyze, NoSync: true})
				if err != nil {
					b.Fatal(err)
				}
				putFarmHires(b, st, n, "%05d")
				t0 := time.Date(2026, 11, 2, 15, 0, 0, 0, time.UTC)
				stats := st.DB().Stats()
				w0 := stats.TxStats.GetWrite()
				b.StartTimer()
				for round := range 2 { // min_link_reports
					for i := range n {
						at := t0.Add(time.Duration(round)*time.Minute + time.Duration(i)*time.Millisecond)
						if _, err := st.Ingest(fmt.Sprintf("d-%05d", i), []*pb.StoredReport{farmReport(at, uint64(round+1))}); err != nil {
							b.Fatal(err)
						}
					}
				}
				b.StopTimer()
				stats = st.DB().Stats()
				writes += int(stats.TxStats.GetWrite() - w0)
				st.View(func(tx *store.Tx) error {
					id := tx.Get(store.BucketClusterOf, []byte("d-00000"))
					record = len(tx.Get(store.BucketClusters, id))
					cl, err := LoadCluster(tx, string(id))
					if err != nil || len(cl.Members) != n {
						b.Fatalf("farm of %d: %v", len(cl.Members), err)
					}
					return nil
				})
				st.Close()
				b.StartTimer()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/device")
			b.ReportMetric(float64(writes)/float64(b.N*n), "writes/device")
			b.ReportMetric(float64(record), "record-bytes")
		})
	}
}
