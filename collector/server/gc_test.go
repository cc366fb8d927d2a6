package server

import (
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
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

func TestParseMemoryLimit(t *testing.T) {
	for in, want := range map[string]int64{
		"auto": 0, "": 0, "none": -1, "1073741824": 1 << 30, "512B": 512,
		"64KiB": 64 << 10, "300MiB": 300 << 20, "12GiB": 12 << 30, "2TiB": 2 << 40,
	} {
		if got, err := ParseMemoryLimit(in); err != nil || got != want {
			t.Errorf("ParseMemoryLimit(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"12GB", "1.5GiB", "-1GiB", "0", "lots", "9999999999TiB"} {
		if got, err := ParseMemoryLimit(in); err == nil {
			t.Errorf("ParseMemoryLimit(%q) = %d, want an error", in, got)
		}
	}
}

func TestCgroupLimit(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	v2max := write("v2-max", "max\n")
	v2 := write("v2", "4294967296\n")
	v1none := write("v1-none", "9223372036854771712\n")
	missing := filepath.Join(dir, "missing")
	for _, c := range []struct {
		files []string
		want  int64
	}{
		{[]string{v2, v1none}, 4 << 30},
		{[]string{missing, v2}, 4 << 30},
		{[]string{v2max, v1none}, 0},
		{[]string{missing}, 0},
	} {
		if got := cgroupLimit(c.files); got != c.want {
			t.Errorf("cgroupLimit(%v) = %d, want %d", c.files, got, c.want)
		}
	}
}

func TestCgroupFiles(t *testing.T) {
	roots := []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"}
	for self, want := range map[string][]string{
		"0::/system.slice/farmwatch.service\n": append([]string{"/sys/fs/cgroup/system.slice/farmwatch.service/memory.max"}, roots...),
		"0::/\n":                               roots,
		"12:cpu,cpuacct:/a\n4:memory:/process_api/151713fb\n0::/\n": append([]string{"/sys/fs/cgroup/memory/process_api/151713fb/memory.limit_in_bytes"}, roots...),
		"": roots,
	} {
		if got := cgroupFiles(self); !slices.Equal(got, want) {
			t.Errorf("cgroupFiles(%q) = %q, want %q", self, got, want)
		}
	}
}

func TestTuneMemoryLimit(t *testing.T) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(math.MaxInt64))
	if _, ok := os.LookupEnv("GOMEMLIMIT"); ok {
		t.Skip("GOMEMLIMIT is set for this test run")
	}
	if got, from := TuneMemoryLimit(3 << 30); got != 3<<30 || from != "flag" || debug.SetMemoryLimit(-1) != 3<<30 {
		t.Fatalf("TuneMemoryLimit(3GiB) = %d, %s", got, from)
	}
	got, from := TuneMemoryLimit(0)
	avail := availableMemory()
	if from != "auto" || got != avail/4*3 || debug.SetMemoryLimit(-1) != got {
		t.Fatalf("TuneMemoryLimit(auto) = %d, %s; available %d", got, from, avail)
	}
	if got < 64<<20 {
		t.Fatalf("auto limit %d bytes on a machine that runs these tests", got)
	}
	if got, from := TuneMemoryLimit(-1); got != math.MaxInt64 || from != "none" || debug.SetMemoryLimit(-1) != math.MaxInt64 {
		t.Fatalf("TuneMemoryLimit(none) = %d, %s", got, from)
	}
	t.Setenv("GOMEMLIMIT", "1GiB")
	debug.SetMemoryLimit(1 << 30) // what the runtime read from GOMEMLIMIT at start
	if got, from := TuneMemoryLimit(3 << 30); got != 1<<30 || from != "GOMEMLIMIT" || debug.SetMemoryLimit(-1) != 1<<30 {
		t.Fatalf("with GOMEMLIMIT=1GiB: %d, %s", got, from)
	}
}
