package analysis

import (
	"testing"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

func TestLostReports(t *testing.T) {
	health := func(before uint64, dropped, unspooled uint64) func(*Input) {
		return func(i *Input) {
			i.State.LostReports = before
			i.Report.Report.Health = &pb.AgentHealth{Dropped: dropped, Unspooled: unspooled}
		}
	}
	fires(t, "nothing lost", lostReports, in(health(0, 0, 0)), false)
	ev := fires(t, "3 unspooled (disk full)", lostReports, in(health(0, 0, 3)), true)
	if ev != nil && ev.GetFacts()["lost"] != "3" {
		t.Errorf("facts %v", ev.GetFacts())
	}
	fires(t, "same count as before", lostReports, in(health(5, 2, 3)), false)
	fires(t, "one more dropped by the cap", lostReports, in(health(5, 3, 3)), true)
	fires(t, "agent restarted: its in-memory count starts again", lostReports, in(health(5, 2, 0)), false)
	fires(t, "no health section", lostReports, in(nil), false)
}
