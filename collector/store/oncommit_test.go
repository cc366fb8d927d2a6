package store

import (
	"sync"
	"testing"
	"time"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// TestOnCommitSeesEveryBatch: the hook is called once per ingest
// transaction, after its commit and before Ingest returns, with the reports
// the transaction carried (duplicates included).
func TestOnCommitSeesEveryBatch(t *testing.T) {
	var mu sync.Mutex
	calls, reports := 0, 0
	var took []time.Duration
	s := openTest(t, t.TempDir(), Options{OnCommit: func(n int, d time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		calls++
		reports += n
		took = append(took, d)
	}})
	addDevice(t, s, "d1")
	now := time.Now()
	for i, batch := range [][]*pb.StoredReport{
		{stored("d1", 1, now), stored("d1", 2, now), stored("d1", 3, now)},
		{stored("d1", 3, now)}, // a duplicate: still a transaction
	} {
		if _, err := s.Ingest("d1", batch); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		if calls != i+1 {
			t.Errorf("after Ingest %d: %d OnCommit calls", i+1, calls)
		}
		mu.Unlock()
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if calls != 2 || reports != 4 {
		t.Fatalf("OnCommit: %d calls with %d reports, want 2 with 4", calls, reports)
	}
	for _, d := range took {
		if d <= 0 {
			t.Fatalf("OnCommit durations %v: want each > 0", took)
		}
	}
}
