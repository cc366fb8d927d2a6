package server

import (
	"os"
	"runtime/debug"
	"testing"
)

func TestTuneGCYieldsToGOGC(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	t.Setenv("GOGC", "150")
	debug.SetGCPercent(150) // what the runtime read from GOGC at start
	if got, fromEnv := TuneGC(300); got != 150 || !fromEnv {
		t.Fatalf("with GOGC=150 set: %d (from env %v), want 150 from the environment", got, fromEnv)
	}
	if cur := debug.SetGCPercent(150); cur != 150 {
		t.Fatalf("GOGC was overridden: %d", cur)
	}
}

func TestTuneGCSetsTarget(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	if v, ok := lookupGOGC(); ok {
		t.Skipf("GOGC=%s is set for this test run", v)
	}
	if got, fromEnv := TuneGC(300); got != 300 || fromEnv {
		t.Fatalf("TuneGC(300) = %d, %v", got, fromEnv)
	}
	if cur := debug.SetGCPercent(100); cur != 300 {
		t.Fatalf("GC target is %d, want 300", cur)
	}
}

func lookupGOGC() (string, bool) { return os.LookupEnv("GOGC") }
