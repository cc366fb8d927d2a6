package main

import (
	"runtime/debug"
	"testing"
)

// The service sets its own GC percent unless the operator's GOGC sets one.
func TestServiceMemory(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	for _, tc := range []struct {
		gogc string
		want int
	}{{"", serviceGCPercent}, {"200", 100}} {
		t.Setenv("GOGC", tc.gogc)
		debug.SetGCPercent(100)
		serviceMemory()
		if got := debug.SetGCPercent(100); got != tc.want {
			t.Errorf("GOGC=%q: GC percent %d, want %d", tc.gogc, got, tc.want)
		}
	}
}
