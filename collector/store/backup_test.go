package store

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// ingestN stores n reports of device dev, from seq first on.
func ingestN(t *testing.T, s *Store, dev string, first, n int) {
	t.Helper()
	t0 := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	var batch []*pb.StoredReport
	for q := first; q < first+n; q++ {
		batch = append(batch, stored(dev, uint64(q), t0.Add(time.Duration(q)*time.Minute)))
	}
	if _, err := s.Ingest(dev, batch); err != nil {
		t.Fatal(err)
	}
}

func copies(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, snapshotPattern))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// swap replaces a package variable for the test.
func swap[T any](t *testing.T, v *T, with T) {
	old := *v
	*v = with
	t.Cleanup(func() { *v = old })
}

func TestSnapshotHoldsNoTransaction(t *testing.T) {
	requireBolt(t)
	dir := t.TempDir()
	s := openTest(t, dir, Options{})
	defer s.Close()
	addDevice(t, s, "d-1")
	ingestN(t, s, "d-1", 1, 50)
	sn, err := s.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer sn.Close()
	// The copy is made; no read transaction stays open for its reader.
	if n := s.bolt.Stats().OpenTxN; n != 0 {
		t.Fatalf("%d read transactions open while the snapshot waits for its reader", n)
	}
	if c := copies(t, dir); len(c) != 1 {
		t.Fatalf("copies in the data dir: %v", c)
	}
	ingestN(t, s, "d-1", 51, 50) // after the snapshot: not in it
	out := filepath.Join(t.TempDir(), "backup.db")
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(f, sn)
	f.Close()
	if err != nil || n != sn.Size {
		t.Fatalf("read %d of %d bytes: %v", n, sn.Size, err)
	}
	if err := sn.Close(); err != nil {
		t.Fatal(err)
	}
	if c := copies(t, dir); len(c) != 0 {
		t.Fatalf("the copy stays after Close: %v", c)
	}
	db, err := bolt.Open(out, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatalf("the backup is not a bbolt file: %v", err)
	}
	defer db.Close()
	db.View(func(tx *bolt.Tx) error {
		if n := tx.Bucket(bucketReports).Stats().KeyN; n != 50 {
			t.Errorf("backup holds %d reports, want the 50 stored before it", n)
		}
		return nil
	})
}

func TestSnapshotOneAtATime(t *testing.T) {
	requireBolt(t)
	s := openTest(t, t.TempDir(), Options{})
	defer s.Close()
	first, err := s.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Snapshot(context.Background())
	if !errors.Is(err, ErrBackupRunning) || !strings.Contains(err.Error(), "try again when it has finished") {
		t.Fatalf("a second snapshot while the first is open: %v", err)
	}
	first.Close()
	first.Close() // idempotent: frees the slot once
	next, err := s.Snapshot(context.Background())
	if err != nil {
		t.Fatalf("a snapshot after the first was closed: %v", err)
	}
	next.Close()
}

func TestSnapshotRefusedWithoutSpace(t *testing.T) {
	requireBolt(t)
	dir := t.TempDir()
	s := openTest(t, dir, Options{})
	defer s.Close()
	var size int64
	s.bolt.View(func(tx *bolt.Tx) error { size = tx.Size(); return nil })
	// One byte short of the store plus the headroom ingest keeps.
	swap(t, &diskFree, func(string) (uint64, error) { return uint64(size+snapshotHeadroom(size)) - 1, nil })
	_, err := s.Snapshot(context.Background())
	if !errors.Is(err, ErrNoSpace) || !strings.Contains(err.Error(), "free there") {
		t.Fatalf("snapshot on a full disk: %v", err)
	}
	if c := copies(t, dir); len(c) != 0 {
		t.Fatalf("a refused snapshot left %v", c)
	}
	diskFree = func(string) (uint64, error) { return uint64(size + snapshotHeadroom(size)), nil }
	sn, err := s.Snapshot(context.Background())
	if err != nil {
		t.Fatalf("snapshot with just enough space: %v", err)
	}
	sn.Close()
}

func TestSnapshotCopyTimeLimit(t *testing.T) {
	requireBolt(t)
	dir := t.TempDir()
	s := openTest(t, dir, Options{})
	defer s.Close()
	swap(t, &copyLimit, func(int64) time.Duration { return 0 })
	_, err := s.Snapshot(context.Background())
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "took longer than") {
		t.Fatalf("a copy past its time limit: %v", err)
	}
	if c := copies(t, dir); len(c) != 0 {
		t.Fatalf("a failed copy left %v", c)
	}
	if n := s.bolt.Stats().OpenTxN; n != 0 {
		t.Fatalf("%d read transactions left open", n)
	}
	copyLimit = func(int64) time.Duration { return time.Minute }
	sn, err := s.Snapshot(context.Background())
	if err != nil {
		t.Fatalf("the next snapshot: %v", err)
	}
	sn.Close()
}

func TestOpenRemovesSnapshotLeftovers(t *testing.T) {
	requireBolt(t)
	dir := t.TempDir()
	s := openTest(t, dir, Options{})
	s.Close()
	left := filepath.Join(dir, "farmwatch.db.backup-123.tmp")
	other := filepath.Join(dir, "notes.tmp")
	for _, p := range []string{left, other} {
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s = openTest(t, dir, Options{})
	defer s.Close()
	if _, err := os.Stat(left); !os.IsNotExist(err) {
		t.Errorf("a copy left by a crash is still there: %v", err)
	}
	if _, err := os.Stat(other); err != nil {
		t.Errorf("an unrelated file was removed: %v", err)
	}
}
