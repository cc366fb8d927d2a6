package analysis

import (
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// shelfState feeds hours of reports, every interval, to a fresh state: an
// hour is shelf-like when shelf(hour) says so for all its reports.
func shelfState(cfg *Config, hours int, interval time.Duration, shelf func(h int) bool) (*DeviceState, time.Time) {
	st := &DeviceState{}
	start := t0.Truncate(time.Hour)
	var at time.Time
	for h := 0; h < hours; h++ {
		for m := time.Duration(0); m < time.Hour; m += interval {
			at = start.Add(time.Duration(h)*time.Hour + m)
			r := &pb.Report{Power: &pb.Power{OnAc: true, Lid: "open"}, Activity: &pb.Activity{IdleSeconds: 20}}
			if shelf(h) {
				r = &pb.Report{Power: &pb.Power{OnAc: true, Lid: "closed"}, Activity: &pb.Activity{IdleSeconds: 7200}}
			}
			st.observe(cfg, austinHire(), &pb.StoredReport{ReceivedAt: timestamppb.New(at), Report: r}, nil)
		}
	}
	return st, at
}

func TestShelfPatternByTheHour(t *testing.T) {
	cfg := DefaultConfig() // 48 h window, 36 h with samples, 90 %
	always := func(int) bool { return true }
	for _, interval := range []time.Duration{5 * time.Minute, time.Hour} {
		run := func(name string, hours int, shelf func(int) bool, want bool) {
			t.Helper()
			st, at := shelfState(&cfg, hours, interval, shelf)
			fires(t, name+" every "+interval.String(), shelfPattern, in(func(i *Input) { i.State, i.Now = st, at }), want)
		}
		run("35 hours on a shelf (under min_hours)", 35, always, false)
		run("36 hours on a shelf", 36, always, true)
		// An honest laptop asleep plugged in from 22:00 to 06:00, three days.
		run("asleep every night", 72, func(h int) bool { return h%24 >= 22 || h%24 < 6 }, false)
		// 40 hours, 36 of them shelf-like: exactly 90 %.
		run("36 of 40 hours", 40, func(h int) bool { return h >= 4 }, true)
		run("35 of 40 hours", 40, func(h int) bool { return h >= 5 }, false)
	}
	// One report with someone at the keyboard spoils its hour.
	st, at := shelfState(&cfg, 40, 5*time.Minute, always)
	for h := 0; h < 5; h++ {
		busy := at.Add(-time.Duration(h) * time.Hour)
		st.observe(&cfg, austinHire(), &pb.StoredReport{ReceivedAt: timestamppb.New(busy),
			Report: &pb.Report{Power: &pb.Power{OnAc: true, Lid: "open"}, Activity: &pb.Activity{IdleSeconds: 5}}}, nil)
	}
	if hours, shelf := st.powerCounts(at, cfg.Power.WindowHours); hours != 40 || shelf != 35 {
		t.Errorf("after 5 busy reports in 5 hours: %d hours, %d shelf; want 40 and 35", hours, shelf)
	}
	fires(t, "35 of 40 after busy reports", shelfPattern, in(func(i *Input) { i.State, i.Now = st, at }), false)
	// The window moves with the clock: two days later the hours are gone.
	fires(t, "two days later", shelfPattern, in(func(i *Input) { i.State, i.Now = st, at.Add(49*time.Hour) }), false)
}
