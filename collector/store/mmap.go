package store

import (
	"runtime"
	"strconv"
)

// minMmapSize is the smallest memory map the store starts with on a 64-bit
// collector: 64 GiB, the store of about 5,000 laptops over 30 days at the
// measured 435 KB per laptop a day. It is address space, not memory: pages
// are read in only as they are touched.
const minMmapSize = 64 << 30

// defaultMmapSize is the memory map the store opens with: at least
// minMmapSize and twice the file, so bbolt remaps (which must wait for every
// read transaction to end, and stops ingest meanwhile) only after the store
// has doubled since the collector started. etcd does the same with 10 GiB.
// bbolt grows a Windows file to the whole map at open, and 32-bit address
// space has no room to spare: both keep bbolt's own growth (0).
func defaultMmapSize(fileSize int64) int {
	if runtime.GOOS == "windows" || strconv.IntSize < 64 {
		return 0
	}
	// The constant is spelled through int64 so that 32-bit builds compile.
	return int(max(int64(minMmapSize), 2*fileSize))
}
