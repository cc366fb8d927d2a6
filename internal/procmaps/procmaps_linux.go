// Package procmaps reads this process's memory maps, for tests that watch
// bbolt map and remap its file.
package procmaps

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// MappedBytes is how many bytes of this process's address space map the
// file at path (0 when none do).
func MappedBytes(path string) (int64, error) {
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var total int64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// start-end perms offset dev inode path
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 || fields[5] != path {
			continue
		}
		lo, hi, _ := strings.Cut(fields[0], "-")
		a, err1 := strconv.ParseUint(lo, 16, 64)
		b, err2 := strconv.ParseUint(hi, 16, 64)
		if err1 != nil || err2 != nil || b < a {
			return 0, fmt.Errorf("/proc/self/maps: cannot read %q", sc.Text())
		}
		total += int64(b - a)
	}
	return total, sc.Err()
}
