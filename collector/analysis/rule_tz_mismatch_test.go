package analysis

import (
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

func TestTZMismatchAcrossDST(t *testing.T) {
	at := func(ts time.Time, zone string, off int32) func(*Input) {
		return func(i *Input) {
			i.Report.ReceivedAt = timestamppb.New(ts)
			i.Report.Report.Locale = &pb.Locale{TimeZone: zone, UtcOffsetSeconds: off}
		}
	}
	fires(t, "same zone", tzMismatch, in(at(t0, "America/Chicago", -6*3600)), false)
	fires(t, "same offset other name", tzMismatch, in(at(t0, "America/Mexico_City", -6*3600)), false)
	fires(t, "Seoul", tzMismatch, in(at(t0, "Asia/Seoul", 9*3600)), true)
	// Phoenix keeps UTC-7 all year; Chicago is UTC-6 in winter and UTC-5 in summer.
	fires(t, "Phoenix in November", tzMismatch, in(at(t0, "America/Phoenix", -7*3600)), true)
	// 2026-03-08 is the US spring-forward: at 07:59 UTC Chicago is still CST (-6), at 08:01 CDT (-5).
	before := time.Date(2026, 3, 8, 7, 59, 0, 0, time.UTC)
	after := time.Date(2026, 3, 8, 8, 1, 0, 0, time.UTC)
	fires(t, "Denver just before DST (-7 vs -6)", tzMismatch, in(at(before, "America/Denver", 0)), true)
	fires(t, "Regina (always -6) before the change", tzMismatch, in(at(before, "America/Regina", 0)), false)
	fires(t, "Regina after the change (-6 vs -5)", tzMismatch, in(at(after, "America/Regina", 0)), true)
	fires(t, "offset only", tzMismatch, in(at(t0, "", 9*3600)), true)
}
