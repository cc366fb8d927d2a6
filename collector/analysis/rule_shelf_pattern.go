package analysis

import (
	"fmt"
	"time"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

func init() {
	register(RuleSpec{ID: RuleShelfPattern, Class: ClassWeak, Source: SourceReport, Weight: 1.0, Eval: shelfPattern,
		Decay: Decay{Hold: 12 * time.Hour, Fade: 12 * time.Hour},
		Doc:   "of the last 48 hours, at least 36 had power samples and 90 % of those were all on mains power, lid closed, no input for 30 min"})
}

// shelfPattern: hour after hour on mains power, lid closed, nobody typing.
// Judged by the hour, not by the report: a laptop that sleeps plugged in
// overnight has eight such hours a day whatever its report interval, a
// laptop on a farm's shelf has all of them.
func shelfPattern(in Input) *pb.Evidence {
	p := in.Config.Power
	hours, shelf := in.State.powerCounts(in.Now, p.WindowHours)
	if hours < p.MinHours || float64(shelf) < p.ShelfFraction*float64(hours) {
		return nil
	}
	return in.evidence(RuleShelfPattern,
		fmt.Sprintf("In %d of the last %d hours with power samples (of %d) the laptop was on mains power with its lid closed and no local input: it sits on a shelf.",
			shelf, hours, p.WindowHours),
		map[string]string{"shelf_hours": fmt.Sprint(shelf), "hours": fmt.Sprint(hours)})
}
