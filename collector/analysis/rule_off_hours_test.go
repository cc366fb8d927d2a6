package analysis

import (
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

func activityState(cfg *Config, hire *pb.Hire, days int, hoursLocal []int) *DeviceState {
	s := &DeviceState{}
	loc, _ := time.LoadLocation(hire.GetHome().GetTimeZone())
	start := time.Date(2026, 11, 2, 0, 0, 0, 0, loc)
	for d := 0; d < days; d++ {
		for _, h := range hoursLocal {
			for _, m := range []int{0, 20, 40} {
				ts := start.AddDate(0, 0, d).Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute)
				s.observe(cfg, hire, &pb.StoredReport{ReceivedAt: timestamppb.New(ts), Report: &pb.Report{Activity: &pb.Activity{IdleSeconds: 30}}}, nil)
			}
		}
	}
	return s
}

func TestOffHours(t *testing.T) {
	cfg := DefaultConfig()
	h := austinHire()
	now := time.Date(2026, 11, 9, 12, 0, 0, 0, time.UTC)
	seoulDay := []int{18, 19, 20, 21, 22, 23, 0, 1, 2}  // 09:00-18:00 KST is 18:00-03:00 in Austin (CST)
	nightOwl := []int{17, 18, 19, 20, 21, 22, 23, 0, 1} // works until 2 a.m.
	office := []int{9, 10, 11, 12, 13, 14, 15, 16}
	run := func(name string, hours []int, days int, want bool) {
		i := in(func(i *Input) { i.State = activityState(&cfg, h, days, hours); i.Now = now; i.Config = &cfg })
		fires(t, name, offHours, i, want)
	}
	run("Seoul office hours", seoulDay, 6, true)
	run("night owl", nightOwl, 6, false)
	run("office hours", office, 6, false)
	run("Seoul hours, too few days", seoulDay, 2, false)
}
