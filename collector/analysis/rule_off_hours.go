package analysis

import (
	"fmt"
	"time"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

func init() {
	register(RuleSpec{ID: RuleOffHours, Class: ClassWeak, Source: SourceReport, Weight: 2.5, Eval: offHours,
		Decay: Decay{Hold: 24 * time.Hour, Fade: 48 * time.Hour},
		Doc:   "after 3 days and 30 active samples, more than half of local input falls 22:00-06:00 in the claimed home's zone"})
}

// offHours: over days, most local input falls in the claimed home's night.
func offHours(in Input) *pb.Evidence {
	s, a := in.State, in.Config.Activity
	span := s.LastSample.Sub(s.FirstSample)
	if s.ActiveSamples < uint32(a.MinActiveSamples) || s.FirstSample.IsZero() ||
		span < time.Duration(a.MinDays*24*float64(time.Hour)) {
		return nil
	}
	night := s.nightActive(a.NightStartHour, a.NightEndHour)
	frac := float64(night) / float64(s.ActiveSamples)
	if frac <= a.NightFraction {
		return nil
	}
	return in.evidence(RuleOffHours,
		fmt.Sprintf("%.0f%% of %d local-input samples over %.0f days fall between %02d:00 and %02d:00 in the claimed home's time zone (%s); peak hour %02d:00.",
			100*frac, s.ActiveSamples, span.Hours()/24, a.NightStartHour, a.NightEndHour,
			in.Hire.GetHome().GetTimeZone(), s.peakHour()),
		map[string]string{"night_fraction": fmt.Sprintf("%.2f", frac), "samples": fmt.Sprint(s.ActiveSamples)})
}
