package store_test

import (
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/farmwatch/farmwatch/collector/store"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
	"github.com/farmwatch/farmwatch/sim"
)

// simReports are stored reports of the simulator's fleet, as the collector
// keeps them.
func simReports(b *testing.B) []*pb.StoredReport {
	b.Helper()
	f := sim.Plan(200, 1)
	out := make([]*pb.StoredReport, 0, len(f.Devices))
	now := time.Now()
	for _, d := range f.Devices {
		out = append(out, &pb.StoredReport{Report: d.Report(1, now, 0), ReceivedAt: timestamppb.New(now),
			PublicIp: d.PublicIP.String(), DeviceId: "d-0123456789abcdef",
			Location: &pb.IPLocation{Country: "US", City: "Austin", Latitude: 30.27, Longitude: -97.74, AccuracyKm: 20,
				TimeZone: "America/Chicago", Asn: 11427, AsOrg: "Charter Communications Inc", Geolocatable: true}})
	}
	return out
}

// BenchmarkEncodeReport compares the store's encoding of a report (S2) with
// zstd at its fastest level, which it replaced: time per report and bytes.
//
//	go test -run '^$' -bench EncodeReport ./collector/store/
func BenchmarkEncodeReport(b *testing.B) {
	reports := simReports(b)
	raw := 0
	for _, sr := range reports {
		v, _ := proto.Marshal(sr)
		raw += len(v)
	}
	zenc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1))
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		enc  func(*pb.StoredReport) []byte
	}{
		{"s2", func(sr *pb.StoredReport) []byte { v, _ := store.EncodeReport(sr); return v }},
		{"zstd-fastest", func(sr *pb.StoredReport) []byte {
			v, _ := proto.MarshalOptions{Deterministic: true}.Marshal(sr)
			return zenc.EncodeAll(v, nil)
		}},
	} {
		b.Run(c.name, func(b *testing.B) {
			size := 0
			for i := 0; i < b.N; i++ {
				size += len(c.enc(reports[i%len(reports)]))
			}
			b.ReportMetric(float64(size)/float64(b.N), "B/value")
			b.ReportMetric(float64(raw)/float64(len(reports)), "B/protobuf")
		})
	}
}
