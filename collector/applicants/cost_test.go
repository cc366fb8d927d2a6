package applicants

import (
	"fmt"
	"testing"
	"time"
)

// An address the gazetteer cannot place costs no more than one it can: the
// gazetteer's search for similar names (milliseconds a miss, more on a busy
// machine) is not paid per row, or an import of 100,000 foreign or
// misspelt addresses would take hours.
func TestUnplaceableAddressesAreCheap(t *testing.T) {
	Normalize(valid()) // loads the fixed data outside the timing
	const n = 300
	start := time.Now()
	for i := range n {
		// Distinct, so no answer is remembered; a known region, so a search
		// for similar names would have a scope to scan.
		addr := fmt.Sprintf("%d Elm St, Qzx%dville, TX 7870%d", i, i, i%10)
		if p, ok := placeAddress(addr, "US"); ok {
			t.Fatalf("%q placed at %v", addr, p)
		}
	}
	took := time.Since(start)
	t.Logf("%d unplaceable addresses in %v", n, took)
	// A generous bound: a search per miss took over 10 s for these.
	if took > 3*time.Second {
		t.Errorf("%d unplaceable addresses took %v: each miss is scanning the gazetteer", n, took)
	}
}
