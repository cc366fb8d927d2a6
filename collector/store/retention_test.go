package store

import (
	"testing"
	"time"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

func TestPruneKeepsRecentAndDedupe(t *testing.T) {
	s := openTest(t, t.TempDir(), Options{})
	defer s.Close()
	addDevice(t, s, "d-1")
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for q := uint64(1); q <= 10; q++ {
		if _, err := s.Ingest("d-1", []*pb.StoredReport{stored("d-1", q, t0.Add(time.Duration(q)*24*time.Hour))}); err != nil {
			t.Fatal(err)
		}
	}
	// Keep what arrived from day 6 on; delete in batches of 2.
	total := 0
	for {
		n, err := s.Prune(t0.Add(6*24*time.Hour), 2)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		total += n
	}
	if total != 5 {
		t.Fatalf("pruned %d, want 5 (days 1-5)", total)
	}
	s.View(func(tx *Tx) error {
		rs, _ := tx.Reports("d-1", 100)
		if len(rs) != 5 || rs[len(rs)-1].GetReport().GetSeq() != 6 {
			t.Errorf("left %d reports, oldest seq %d; want 5 from seq 6", len(rs), rs[len(rs)-1].GetReport().GetSeq())
		}
		return nil
	})
	res, err := s.Ingest("d-1", []*pb.StoredReport{stored("d-1", 3, t0)})
	if err != nil || len(res.Duplicates) != 1 {
		t.Fatalf("a replay of a pruned report: %+v %v, want a duplicate", res, err)
	}
}
