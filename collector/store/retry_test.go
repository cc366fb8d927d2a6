package store

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// errConflict stands for a serializable backend's commit conflict.
var errConflict = errors.New("serialization failure (simulated)")

// retryEngine runs every Update as a serializable backend does when its
// first commit conflicts: fn runs to its end, the attempt rolls back, and fn
// runs again in a new transaction, which commits.
type retryEngine struct {
	kvEngine
	mu              sync.Mutex
	attempts, rolls int
}

func (e *retryEngine) Update(fn func(kvTx) error) error {
	count := func(tx kvTx) error {
		e.mu.Lock()
		e.attempts++
		e.mu.Unlock()
		return fn(tx)
	}
	err := e.kvEngine.Update(func(tx kvTx) error {
		if err := count(tx); err != nil {
			return err
		}
		return errConflict
	})
	if !errors.Is(err, errConflict) {
		return err // fn's own error: no retry
	}
	e.mu.Lock()
	e.rolls++
	e.mu.Unlock()
	return e.kvEngine.Update(count)
}

// Every transaction of the store may run twice on a backend that retries
// conflicts: what the store answers, stores and calls back must be the
// second attempt's alone.
func TestUpdateRetriedKeepsNothingOfTheFirstAttempt(t *testing.T) {
	db, err := bolt.Open(filepath.Join(t.TempDir(), File), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	e := &retryEngine{kvEngine: boltEngine{db}}
	var mu sync.Mutex
	var calls [][]uint64 // the event ids of each OnAlertEvents call
	clock := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	// The analysis opens one alert per device and raises its score by 0.1
	// per report: opened, evidence_changed, review_crossed (0.5)...
	analyze := func(tx *Tx, dev *pb.Device, sr *pb.StoredReport) error {
		a, err := tx.OpenAlert(dev.GetId(), "device")
		if err != nil {
			return err
		}
		if a == nil {
			id, err := tx.NextAlertID()
			if err != nil {
				return err
			}
			a = &pb.Alert{Id: id, Kind: "device", DeviceId: dev.GetId(), Status: "open", Score: 0.2}
		}
		a.Score += 0.1
		return tx.PutAlert(dev.GetId(), a)
	}
	s, err := newStore(e, nil, Options{Analyze: analyze, Now: func() time.Time { return clock },
		OnAlertEvents: func(evs []*pb.AlertEvent) {
			mu.Lock()
			defer mu.Unlock()
			var ids []uint64
			for _, ev := range evs {
				ids = append(ids, ev.GetId())
			}
			calls = append(calls, ids)
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	addDevice(t, s, "d-1")
	t0 := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	at := func(seq int) time.Time { return t0.Add(time.Duration(seq) * time.Minute) }

	// Ingest: the first attempt stores the reports and rolls back; the
	// second must not take them for duplicates.
	res, err := s.Ingest("d-1", []*pb.StoredReport{stored("d-1", 1, at(1)), stored("d-1", 2, at(2)), stored("d-1", 3, at(3))})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Acknowledged, []uint64{1, 2, 3}) || len(res.Duplicates) != 0 {
		t.Fatalf("first ingest: %+v, want 1-3 acknowledged, no duplicates", res)
	}
	res, err = s.Ingest("d-1", []*pb.StoredReport{stored("d-1", 2, at(2)), stored("d-1", 3, at(3)), stored("d-1", 4, at(4))})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Acknowledged, []uint64{2, 3, 4}) || !slices.Equal(res.Duplicates, []uint64{2, 3}) {
		t.Fatalf("second ingest: %+v, want 2-4 acknowledged, 2 and 3 duplicates", res)
	}
	// An admin's change outside the writer.
	if err := s.Update(func(tx *Tx) error {
		a, err := tx.OpenAlert("d-1", "device")
		if err != nil || a == nil {
			return errors.Join(errors.New("no open alert"), err)
		}
		a.Status = "acknowledged"
		tx.SetActor("alice")
		if err := tx.PutAlert("d-1", a); err != nil {
			return err
		}
		return tx.Audit(clock, "alice", "alert.acknowledge", a.GetId(), "")
	}); err != nil {
		t.Fatal(err)
	}
	var device *pb.Device
	var reports []*pb.StoredReport
	var audit []*pb.AuditEntry
	if err := s.View(func(tx *Tx) error {
		if n := tx.ReportCount(); n != 4 {
			t.Errorf("%d reports stored, want 4", n)
		}
		var err error
		if reports, err = tx.Reports("d-1", 10); err != nil {
			return err
		}
		if device, err = tx.Device("d-1"); err != nil {
			return err
		}
		audit, err = tx.AuditEntries("", 10)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	var seqs []uint64
	for _, r := range reports {
		seqs = append(seqs, r.GetReport().GetSeq())
	}
	if !slices.Equal(seqs, []uint64{4, 3, 2, 1}) {
		t.Errorf("stored reports %v, want 4 3 2 1, each once", seqs)
	}
	if device.GetReports() != 4 {
		t.Errorf("the device counts %d reports, want 4", device.GetReports())
	}
	if len(audit) != 1 {
		t.Errorf("%d audit entries, want 1: %v", len(audit), audit)
	}
	evs, err := s.AlertEvents(0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var ids []uint64
	var types []string
	for _, ev := range evs {
		ids, types = append(ids, ev.GetId()), append(types, ev.GetType())
	}
	if !slices.Equal(ids, []uint64{1, 2, 3, 4, 5}) {
		t.Errorf("event ids %v, want 1-5 without gaps or repeats", ids)
	}
	if want := []string{EventOpened, EventEvidenceChanged, EventReviewCrossed, EventEvidenceChanged, EventAcknowledged}; !slices.Equal(types, want) {
		t.Errorf("event types %v, want %v", types, want)
	}
	if last, err := s.LastAlertEventID(); err != nil || last != 5 {
		t.Errorf("last event id %d, %v; want 5", last, err)
	}
	mu.Lock()
	got := slices.Clone(calls)
	mu.Unlock()
	if want := [][]uint64{{1, 2, 3}, {4}, {5}}; !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("OnAlertEvents calls %v, want %v: one per committed transaction, none for a rolled back attempt", got, want)
	}

	// Applicant imports: staging, the commit marker, the batches applied
	// and their counts.
	list := []*pb.Applicant{{Id: "ap-1"}, {Id: "ap-2"}, {Id: "ap-3"}}
	if err := s.StageApplicants("imp-1", 1, list); err != nil {
		t.Fatal(err)
	}
	if err := s.CommitImport("imp-1", ImportMarker{Rows: 3, Actor: "alice"}); err != nil {
		t.Fatal(err)
	}
	if err := s.StageApplicants("imp-stale", 1, list[:1]); err != nil {
		t.Fatal(err)
	}
	pending, err := s.PendingImports()
	if err != nil || !slices.Equal(pending, []string{"imp-1"}) {
		t.Fatalf("pending imports %v, %v; want imp-1", pending, err)
	}
	if rows, _, err := s.StagedApplicants("imp-stale", 0, 0, 10); err != nil || len(rows) != 0 {
		t.Errorf("an import never committed still has staged rows %v (%v)", rows, err)
	}
	var applied []string
	m, err := s.ApplyImport("imp-1", clock, func(batch []*pb.Applicant) {
		for _, a := range batch {
			applied = append(applied, a.GetId())
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(applied, []string{"ap-1", "ap-2", "ap-3"}) {
		t.Errorf("applied rows %v, want each row once", applied)
	}
	if m.Phase != ImportScreen || m.Added != 3 || m.Updated != 0 || m.Unchanged != 0 {
		t.Errorf("import marker %+v, want screen phase, 3 added", m)
	}
	s.View(func(tx *Tx) error {
		if n := tx.ApplicantCount(); n != 3 {
			t.Errorf("%d applicants, want 3", n)
		}
		return nil
	})

	// Retention counts what the committed attempt deleted.
	if n, err := s.Prune(at(3), 100); err != nil || n != 2 {
		t.Errorf("pruned %d reports (%v), want 2", n, err)
	}
	clock = clock.Add(time.Hour)
	if n, err := s.PruneAlertEvents(clock); err != nil || n != 4 {
		t.Errorf("pruned %d events (%v), want 4: all but the newest", n, err)
	}

	e.mu.Lock()
	attempts, rolls := e.attempts, e.rolls
	e.mu.Unlock()
	if rolls == 0 || attempts != 2*rolls {
		t.Fatalf("%d attempts, %d rolled back: every update should have run twice", attempts, rolls)
	}

	// The features of a bbolt file answer ErrNotBbolt off bbolt.
	if p := s.Path(); p != "" {
		t.Errorf("Path %q off bbolt, want empty", p)
	}
	if s.DB() != nil {
		t.Error("DB off bbolt is not nil")
	}
	if _, err := s.Snapshot(context.Background()); !errors.Is(err, ErrNotBbolt) {
		t.Errorf("Snapshot off bbolt: %v, want ErrNotBbolt", err)
	}
	if _, err := s.ScrubFreePages(time.Second); !errors.Is(err, ErrNotBbolt) {
		t.Errorf("ScrubFreePages off bbolt: %v, want ErrNotBbolt", err)
	}
}
