package server

import (
	"fmt"
	"math"
	"os"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"

	"github.com/shirou/gopsutil/v4/mem"
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

// TuneMemoryLimit sets Go's soft memory limit, so that a collector whose live
// heap grows (every connected agent holds about 40 KiB of TLS and HTTP/2
// state) collects more often as it nears the limit instead of letting the
// heap reach four times the live one (DefaultGCPercent) and the machine run
// out. limit > 0 is taken as is; limit == 0 means three quarters of the
// memory available to the process (the cgroup's limit when there is one,
// else the machine's); limit < 0 means no limit. GOMEMLIMIT in the
// environment wins. It returns the limit in effect (math.MaxInt64 for none)
// and where it came from: "GOMEMLIMIT", "flag", "auto" or "none".
func TuneMemoryLimit(limit int64) (int64, string) {
	if _, ok := os.LookupEnv("GOMEMLIMIT"); ok {
		return debug.SetMemoryLimit(-1), "GOMEMLIMIT"
	}
	switch {
	case limit > 0:
		debug.SetMemoryLimit(limit)
		return limit, "flag"
	case limit < 0:
		debug.SetMemoryLimit(math.MaxInt64)
		return math.MaxInt64, "none"
	}
	avail := availableMemory()
	if avail <= 0 {
		debug.SetMemoryLimit(math.MaxInt64)
		return math.MaxInt64, "none"
	}
	limit = avail / 4 * 3
	debug.SetMemoryLimit(limit)
	return limit, "auto"
}

// availableMemory is the cgroup (v2, then v1) memory limit of this process
// when one is set, else the machine's physical memory, in bytes; 0 when
// neither can be read.
func availableMemory() int64 {
	total := int64(0)
	if vm, err := mem.VirtualMemory(); err == nil {
		total = int64(vm.Total)
	}
	self, _ := os.ReadFile("/proc/self/cgroup")
	if c := cgroupLimit(cgroupFiles(string(self))); c > 0 && (total == 0 || c < total) {
		return c
	}
	return total
}

// cgroupFiles lists where the memory limit of this process's cgroup can be
// read, given /proc/self/cgroup: its own cgroup's file first (a systemd
// unit's MemoryMax, say), then the root of the mounted hierarchy, which is
// the process's own cgroup inside a container with a cgroup namespace.
func cgroupFiles(self string) []string {
	var own []string
	for _, line := range strings.Split(self, "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 || !strings.HasPrefix(parts[2], "/") || parts[2] == "/" {
			continue
		}
		switch {
		case parts[0] == "0" && parts[1] == "": // cgroup v2
			own = append(own, "/sys/fs/cgroup"+parts[2]+"/memory.max")
		case slices.Contains(strings.Split(parts[1], ","), "memory"): // cgroup v1
			own = append(own, "/sys/fs/cgroup/memory"+parts[2]+"/memory.limit_in_bytes")
		}
	}
	return append(own,
		"/sys/fs/cgroup/memory.max",                   // cgroup v2
		"/sys/fs/cgroup/memory/memory.limit_in_bytes", // cgroup v1
	)
}

// cgroupLimit reads the first of files that holds a number ("max", a
// missing file or an unreadable one give none).
func cgroupLimit(files []string) int64 {
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		if err == nil && n > 0 && n < 1<<60 { // v1 spells "no limit" as a huge number
			return n
		}
	}
	return 0
}

// ParseMemoryLimit reads --memory-limit: "auto" (0), "none" (-1), or a size
// in GOMEMLIMIT's spelling, a whole number of bytes with an optional B, KiB,
// MiB, GiB or TiB suffix, e.g. "12GiB".
func ParseMemoryLimit(s string) (int64, error) {
	switch s = strings.TrimSpace(s); s {
	case "auto", "":
		return 0, nil
	case "none":
		return -1, nil
	}
	units := []struct {
		suffix string
		shift  uint
	}{{"TiB", 40}, {"GiB", 30}, {"MiB", 20}, {"KiB", 10}, {"B", 0}}
	num, shift := s, uint(0)
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			num, shift = strings.TrimSuffix(s, u.suffix), u.shift
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n <= 0 || n > math.MaxInt64>>shift {
		return 0, fmt.Errorf("%q is not auto, none or a size such as 12GiB (B, KiB, MiB, GiB, TiB)", s)
	}
	return n << shift, nil
}
