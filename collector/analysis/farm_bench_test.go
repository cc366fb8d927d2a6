package analysis

import (
	"fmt"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/farmwatch/farmwatch/collector/store"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// BenchmarkFarmForms measures a farm of n devices forming on one store
// (bbolt, fsync off): each device's reports on the farm's router, Wi-Fi and
// public IP until it is linked, one transaction per report. Each join
// rewrites the cluster's record; it reports the time and the pages bbolt
// writes per joining device, and the record's size once the farm is whole.
//
//	go test -run '^$' -bench FarmForms -benchtime 3x ./collector/analysis/
func BenchmarkFarmForms(b *testing.B) {
	for _, n := range []int{100, 1000} {
		b.Run(fmt.Sprintf("devices=%d", n), func(b *testing.B) {
			var pages, record int
			for range b.N {
				b.StopTimer()
				st, err := store.Open(b.TempDir(), store.Options{Analyze: NewEngine(DefaultConfig()).Analyze, NoSync: true})
				if err != nil {
					b.Fatal(err)
				}
				homes := []*pb.ClaimedHome{
					{Place: "Austin, Texas, US", Country: "US", Latitude: 30.27, Longitude: -97.74, TimeZone: "America/Chicago"},
					{Place: "Seattle, Washington, US", Country: "US", Latitude: 47.61, Longitude: -122.33, TimeZone: "America/Los_Angeles"},
				}
				if err := st.Update(func(tx *store.Tx) error {
					for i := range n {
						h := &pb.Hire{Id: fmt.Sprintf("h-%05d", i), Name: "Hire", Home: homes[i%2]}
						if err := tx.PutHire(h); err != nil {
							return err
						}
						if err := tx.PutDevice(&pb.Device{Id: fmt.Sprintf("d-%05d", i), HireId: h.Id}); err != nil {
							return err
						}
					}
					return nil
				}); err != nil {
					b.Fatal(err)
				}
				t0 := time.Date(2026, 11, 2, 15, 0, 0, 0, time.UTC)
				stats := st.DB().Stats()
				w0 := stats.TxStats.GetWrite()
				b.StartTimer()
				for round := range 2 { // min_link_reports
					for i := range n {
						at := t0.Add(time.Duration(round)*time.Minute + time.Duration(i)*time.Millisecond)
						sr := &pb.StoredReport{ReceivedAt: timestamppb.New(at), PublicIp: "68.2.1.7",
							Location: &pb.IPLocation{Country: "US", City: "Phoenix", Latitude: 33.45, Longitude: -112.07,
								AccuracyKm: 20, TimeZone: "America/Phoenix", Geolocatable: true},
							Report: &pb.Report{Seq: uint64(round + 1), CollectedAt: timestamppb.New(at),
								Network: &pb.Network{GatewayMac: "50:c7:bf:00:00:01", Wifi: &pb.Wifi{Bssid: "50:c7:bf:00:00:02"}}}}
						if _, err := st.Ingest(fmt.Sprintf("d-%05d", i), []*pb.StoredReport{sr}); err != nil {
							b.Fatal(err)
						}
					}
				}
				b.StopTimer()
				stats = st.DB().Stats()
				pages += int(stats.TxStats.GetWrite() - w0)
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
			b.ReportMetric(float64(pages)/float64(b.N*n), "pages/device")
			b.ReportMetric(float64(record), "record-bytes")
		})
	}
}
