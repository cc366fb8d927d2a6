package analysis

import (
	"testing"
	"time"
)

func TestImpossibleTravel(t *testing.T) {
	last := func(hoursAgo float64) func(*Input) {
		return func(i *Input) {
			i.State.Last = &Observation{Lat: 40.7128, Lon: -74.006, AccuracyKM: 20, At: t0.Add(-time.Duration(hoursAgo * float64(time.Hour))), IP: "72.229.1.1", Place: "New York"}
		}
	}
	// New York -> Austin is ~2,430 km.
	fires(t, "1 hour", impossibleTravel, in(last(1)), true)
	fires(t, "5 hours (a flight)", impossibleTravel, in(last(5)), false)
	fires(t, "no previous", impossibleTravel, in(nil), false)
	fires(t, "jump within accuracy", impossibleTravel, in(func(i *Input) {
		i.State.Last = &Observation{Lat: 30.5, Lon: -97.9, AccuracyKM: 300, At: t0.Add(-time.Minute)}
	}), false)
}
