package spool

import (
	"path/filepath"
	"testing"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

func TestSeqPendingAckAcrossReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "spool.db")
	s, err := Open(path, 100)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := s.Add(&pb.Report{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Ack([]uint64{1}); err != nil {
		t.Fatal(err)
	}
	s.Close()

	// After a restart the sequence continues and unacknowledged reports remain.
	s, err = Open(path, 100)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r := &pb.Report{}
	if err := s.Add(r); err != nil {
		t.Fatal(err)
	}
	if r.GetSeq() != 4 {
		t.Fatalf("seq after reopen %d, want 4", r.GetSeq())
	}
	p, err := s.Pending(10)
	if err != nil {
		t.Fatal(err)
	}
	var got []uint64
	for _, r := range p {
		got = append(got, r.GetSeq())
	}
	if len(got) != 3 || got[0] != 2 || got[1] != 3 || got[2] != 4 {
		t.Fatalf("pending %v, want [2 3 4] oldest first", got)
	}
	if r.GetHealth().GetSpooled() != 2 {
		t.Errorf("report says %d spooled before it, want 2", r.GetHealth().GetSpooled())
	}
}

func TestCapDropsOldestAndCounts(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "spool.db"), 5)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for range 8 {
		if err := s.Add(&pb.Report{}); err != nil {
			t.Fatal(err)
		}
	}
	p, _ := s.Pending(100)
	if len(p) != 5 || p[0].GetSeq() != 4 || p[4].GetSeq() != 8 {
		t.Fatalf("pending after cap: %d reports from seq %d", len(p), p[0].GetSeq())
	}
	st, _ := s.Stats()
	if st.Dropped != 3 {
		t.Fatalf("dropped %d, want 3", st.Dropped)
	}
	r := &pb.Report{}
	s.Add(r)
	if r.GetHealth().GetDropped() != 3 {
		t.Errorf("next report tells the collector %d dropped, want 3", r.GetHealth().GetDropped())
	}
	if err := s.Drop(5); err != nil {
		t.Fatal(err)
	}
	if st, _ := s.Stats(); st.Dropped != 5 || st.Pending != 4 {
		t.Errorf("after Drop: %+v", st)
	}
}
