package main

import (
	"runtime/debug"
	"testing"

	"github.com/farmwatch/farmwatch/agent/reporter"
)

// The service sets its own GC percent unless the operator's GOGC sets one,
// and returns memory after each cycle.
func TestServiceMemory(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	for _, tc := range []struct {
		gogc string
		want int
	}{{"", serviceGCPercent}, {"200", 100}} {
		t.Setenv("GOGC", tc.gogc)
		debug.SetGCPercent(100)
		rep := &reporter.Reporter{}
		serviceMemory(rep)
		if got := debug.SetGCPercent(100); got != tc.want {
			t.Errorf("GOGC=%q: GC percent %d, want %d", tc.gogc, got, tc.want)
		}
		if rep.AfterCycle == nil {
			t.Errorf("GOGC=%q: no AfterCycle: the free heap stays resident between cycles", tc.gogc)
		}
	}
}
