package analysis

import (
	"fmt"
	"time"

	"github.com/farmwatch/farmwatch/geo"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

func init() {
	register(RuleSpec{ID: RuleTZMismatch, Class: ClassWeak, Source: SourceReport, Weight: 1.5, Eval: tzMismatch,
		Decay: Decay{Hold: 12 * time.Hour, Fade: 12 * time.Hour},
		Doc:   "the laptop's UTC offset differs from the claimed home's at that instant (daylight saving included)"})
}

// tzMismatch: the device's UTC offset is not the claimed home's at the same
// instant (daylight saving included).
func tzMismatch(in Input) *pb.Evidence {
	l := in.Report.GetReport().GetLocale()
	home := in.Hire.GetHome()
	if l == nil || home.GetTimeZone() == "" || (l.GetTimeZone() == "" && l.GetUtcOffsetSeconds() == 0) {
		return nil
	}
	at := in.Report.GetReceivedAt().AsTime()
	homeLoc, err := geo.LoadZone(home.GetTimeZone())
	if err != nil {
		return nil
	}
	_, homeOff := at.In(homeLoc).Zone()
	devOff := int(l.GetUtcOffsetSeconds())
	if l.GetTimeZone() != "" {
		if dl, err := geo.LoadZone(l.GetTimeZone()); err == nil {
			_, devOff = at.In(dl).Zone()
		}
	}
	if devOff == homeOff {
		return nil
	}
	return in.evidence(RuleTZMismatch,
		fmt.Sprintf("The laptop's clock is set to %s (UTC%s) while the claimed home %s is at UTC%s.",
			orUnknown(l.GetTimeZone()), offset(devOff), home.GetPlace(), offset(homeOff)),
		map[string]string{"device_zone": l.GetTimeZone(), "device_offset": offset(devOff), "home_offset": offset(homeOff)})
}

// tzMismatch: the device's UTC offset is not the claimed home's at the same
// instant (daylight saving included).
func offset(sec int) string {
	sign := "+"
	if sec < 0 {
		sign, sec = "-", -sec
	}
	return fmt.Sprintf("%s%02d:%02d", sign, sec/3600, sec%3600/60)
}

func orUnknown(s string) string {
	if s == "" {
		return "an unnamed zone"
	}
	return s
}
