package spool

import (
	"encoding/binary"
	"fmt"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"

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

func TestEpochDrawnOnceAndStamped(t *testing.T) {
	path := filepath.Join(t.TempDir(), "spool.db")
	s, err := Open(path, 100)
	if err != nil {
		t.Fatal(err)
	}
	if s.Origin() != EpochNew {
		t.Errorf("a new spool's origin %v, want EpochNew", s.Origin())
	}
	r := &pb.Report{}
	if err := s.Add(r); err != nil {
		t.Fatal(err)
	}
	st, _ := s.Stats()
	if st.Epoch == 0 || r.GetSpoolEpoch() != st.Epoch {
		t.Fatalf("epoch %x, report stamped %x", st.Epoch, r.GetSpoolEpoch())
	}
	s.Close()
	s, err = Open(path, 100)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if st2, _ := s.Stats(); s.Origin() != EpochKept || st2.Epoch != st.Epoch {
		t.Errorf("reopened: origin %v epoch %x, want EpochKept %x", s.Origin(), st2.Epoch, st.Epoch)
	}
	other, err := Open(filepath.Join(t.TempDir(), "spool.db"), 100)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if so, _ := other.Stats(); so.Epoch == st.Epoch || so.Epoch == 0 {
		t.Errorf("two spools drew epochs %x and %x", st.Epoch, so.Epoch)
	}
}

// writeOlderSpool makes a spool as an agent before spool epochs left it: two
// reports waiting, seq 7 next.
func writeOlderSpool(t *testing.T, path string) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(func(tx *bolt.Tx) error {
		meta, _ := tx.CreateBucket(bucketMeta)
		pending, _ := tx.CreateBucket(bucketPending)
		for _, seq := range []uint64{5, 6} {
			v, _ := proto.Marshal(&pb.Report{Seq: seq, Host: &pb.Host{Hostname: "old"}})
			pending.Put(binary.BigEndian.AppendUint64(nil, seq), v)
		}
		putU64(meta, keyPending, 2)
		return putU64(meta, keyNextSeq, 7)
	}); err != nil {
		t.Fatal(err)
	}
}

// The spool of an older agent gets an epoch; the reports already in it go
// unchanged, the new ones under the epoch, the sequence going on.
func TestOlderSpoolAdopted(t *testing.T) {
	path := filepath.Join(t.TempDir(), "spool.db")
	writeOlderSpool(t, path)
	s, err := Open(path, 100)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Origin() != EpochAdopted {
		t.Errorf("origin %v, want EpochAdopted", s.Origin())
	}
	if renumbered, err := s.BindDevice("d-1"); err != nil || renumbered {
		t.Fatalf("first bind of an older spool: %v %v", renumbered, err)
	}
	r := &pb.Report{}
	if err := s.Add(r); err != nil {
		t.Fatal(err)
	}
	st, _ := s.Stats()
	p, _ := s.Pending(10)
	if len(p) != 3 || p[0].GetSeq() != 5 || p[0].GetSpoolEpoch() != 0 || p[1].GetSpoolEpoch() != 0 ||
		p[2].GetSeq() != 7 || p[2].GetSpoolEpoch() != st.Epoch || st.Epoch == 0 {
		t.Errorf("pending after the upgrade: %v (epoch %x)", p, st.Epoch)
	}
}

// A spool that served another device (enrolled again, state directory kept)
// starts a new epoch and renumbers its waiting reports from 1.
func TestBindDeviceRenumbers(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "spool.db"), 100)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if renumbered, err := s.BindDevice("d-old"); err != nil || renumbered {
		t.Fatalf("bind a new spool: %v %v", renumbered, err)
	}
	for i := range 5 {
		if err := s.Add(&pb.Report{Host: &pb.Host{Hostname: fmt.Sprint(i)}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Ack([]uint64{1, 2}); err != nil {
		t.Fatal(err)
	}
	old, _ := s.Stats()
	if renumbered, err := s.BindDevice("d-old"); err != nil || renumbered {
		t.Fatalf("bind the same device again: %v %v", renumbered, err)
	}
	renumbered, err := s.BindDevice("d-new")
	if err != nil || !renumbered {
		t.Fatalf("bind another device: %v %v", renumbered, err)
	}
	st, _ := s.Stats()
	if st.Epoch == old.Epoch || st.Pending != 3 || st.NextSeq != 4 {
		t.Errorf("after the rebind: %+v (before %+v)", st, old)
	}
	p, _ := s.Pending(10)
	for i, r := range p {
		if r.GetSeq() != uint64(i+1) || r.GetSpoolEpoch() != st.Epoch || r.GetHost().GetHostname() != fmt.Sprint(i+2) {
			t.Errorf("pending %d: seq %d epoch %x host %s", i, r.GetSeq(), r.GetSpoolEpoch(), r.GetHost().GetHostname())
		}
	}
	r := &pb.Report{}
	s.Add(r)
	if r.GetSeq() != 4 || r.GetSpoolEpoch() != st.Epoch {
		t.Errorf("next report: seq %d epoch %x", r.GetSeq(), r.GetSpoolEpoch())
	}
}
