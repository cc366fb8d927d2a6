package analysis

import (
	"fmt"
	"time"

	"github.com/farmwatch/farmwatch/geo"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

func init() {
	register(RuleSpec{ID: RuleIPZoneMismatch, Class: ClassWeak, Source: SourceReport, Weight: 1.0, Eval: ipZoneMismatch,
		Decay: Decay{Hold: 12 * time.Hour, Fade: 12 * time.Hour},
		Doc:   "the laptop's clock shows the claimed home's UTC offset while its public IP lies in a zone with another offset"})
}

// ipZoneMismatch: the clock agrees with the claim, the network does not. A
// laptop set to the claimed home's zone while it reports from elsewhere is
// what a disguise looks like (locale.tz_mismatch covers the laptop whose
// clock gives it away); an honest traveller who did not change the clock
// shows it too, which is why it is weak.
func ipZoneMismatch(in Input) *pb.Evidence {
	loc, home, l := in.located(), in.Hire.GetHome(), in.Report.GetReport().GetLocale()
	if loc == nil || loc.GetTimeZone() == "" || home.GetTimeZone() == "" || l == nil || (l.GetTimeZone() == "" && l.GetUtcOffsetSeconds() == 0) {
		return nil
	}
	at := in.Report.GetReceivedAt().AsTime()
	homeLoc, err1 := geo.LoadZone(home.GetTimeZone())
	ipLoc, err2 := geo.LoadZone(loc.GetTimeZone())
	if err1 != nil || err2 != nil {
		return nil
	}
	_, homeOff := at.In(homeLoc).Zone()
	_, ipOff := at.In(ipLoc).Zone()
	devOff := int(l.GetUtcOffsetSeconds())
	if l.GetTimeZone() != "" {
		if dl, err := geo.LoadZone(l.GetTimeZone()); err == nil {
			_, devOff = at.In(dl).Zone()
		}
	}
	if devOff != homeOff || ipOff == devOff {
		return nil
	}
	return in.evidence(RuleIPZoneMismatch,
		fmt.Sprintf("The laptop's clock is set to the claimed home's offset (%s, UTC%s) but its public IP %s is in %s (%s, UTC%s).",
			orUnknown(l.GetTimeZone()), offset(devOff), in.Report.GetPublicIp(), place(loc), loc.GetTimeZone(), offset(ipOff)),
		map[string]string{"device_offset": offset(devOff), "ip_zone": loc.GetTimeZone(), "ip_offset": offset(ipOff)})
}
