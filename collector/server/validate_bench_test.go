package server_test

import (
	"testing"
	"time"

	"github.com/farmwatch/farmwatch/collector/server"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
	"github.com/farmwatch/farmwatch/sim"
)

// BenchmarkValidateReport is the per-report cost of the limit and format
// checks on the simulator's reports.
//
//	go test -run '^$' -bench ValidateReport ./collector/server/
func BenchmarkValidateReport(b *testing.B) {
	f := sim.Plan(200, 1)
	now := time.Now()
	reports := make([]*pb.Report, 0, len(f.Devices))
	for _, d := range f.Devices {
		reports = append(reports, d.Report(1, now, 0))
	}
	l := server.DefaultLimits()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := l.ValidateReport(reports[i%len(reports)], now); err != nil {
			b.Fatal(err)
		}
	}
}
