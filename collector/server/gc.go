package server

import (
	"os"
	"runtime/debug"
)

// DefaultGCPercent is the collector's garbage-collection target. Its live
// heap is small (tens of MiB beside a memory-mapped store of gigabytes) while
// every report allocates its decoded message and its analysis, so at Go's
// default of 100 the collector collects many times a second. At 300 it spent
// 150-155 µs of CPU per report against 158-186 µs in alternating ingest runs
// of 1,000 agents (docs/PERFORMANCE.md), for a heap that may grow to four
// times the live one.
const DefaultGCPercent = 300

// TuneGC sets the garbage-collection target to percent, unless the operator
// set GOGC in the environment, which then wins. It returns the setting in
// effect and whether it came from GOGC.
func TuneGC(percent int) (int, bool) {
	if _, ok := os.LookupEnv("GOGC"); ok {
		cur := debug.SetGCPercent(100)
		debug.SetGCPercent(cur)
		return cur, true
	}
	debug.SetGCPercent(percent)
	return percent, false
}
