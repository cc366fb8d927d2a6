package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"
)

// A backup is copied into a file of the data dir at disk speed and only then
// read by the client, however slowly. While a bbolt read transaction is open
// the file's memory map cannot grow, so a transaction held for a slow or
// paused client stopped the writer, every ingest call and every admin change
// as soon as the store needed more room.

// snapshotPattern names the copies in the data dir (os.CreateTemp); Open
// removes leftovers of a crash.
const snapshotPattern = "farmwatch.db.backup-*.tmp"

// Snapshot errors; the server turns them into statuses that say what to do.
var (
	ErrBackupRunning = errors.New("another backup is being taken or read")
	ErrNoSpace       = errors.New("not enough free disk space")
)

// Snapshot is a consistent copy of the store in a file of the data dir. Read
// it, then Close it, which removes the file.
type Snapshot struct {
	Size int64
	f    *os.File
	s    *Store
}

// Read reads the copy.
func (sn *Snapshot) Read(p []byte) (int, error) { return sn.f.Read(p) }

// Close removes the copy and lets the next backup start. It is idempotent.
func (sn *Snapshot) Close() error {
	if sn.f == nil {
		return nil
	}
	err := sn.f.Close()
	if rerr := os.Remove(sn.f.Name()); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
		err = errors.Join(err, rerr)
	}
	sn.f = nil
	sn.s.endBackup()
	return err
}

// backupSlot allows one backup at a time: each needs as much free disk as
// the whole store.
type backupSlot struct {
	since time.Time
	size  int64
}

// Snapshot copies the store into a new file of the data dir, holding a read
// transaction only for the copy, which must finish within copyLimit. It
// refuses while another snapshot is open, and when the disk would keep less
// than snapshotHeadroom free after the copy.
//
// On a backend other than bbolt it fails with an error wrapping ErrNotBbolt.
func (s *Store) Snapshot(ctx context.Context) (*Snapshot, error) {
	if s.bolt == nil {
		return nil, errBackupNotBbolt
	}
	if err := s.beginBackup(); err != nil {
		return nil, err
	}
	sn, err := s.snapshot(ctx)
	if err != nil {
		s.endBackup()
		return nil, err
	}
	return sn, nil
}

func (s *Store) snapshot(ctx context.Context) (*Snapshot, error) {
	dir := filepath.Dir(s.bolt.Path())
	btx, err := s.bolt.Begin(false)
	if err != nil {
		return nil, fmt.Errorf("backup: begin read transaction: %w", err)
	}
	defer btx.Rollback()
	size := btx.Size()
	s.backupMu.Lock()
	s.backup.size = size
	s.backupMu.Unlock()
	free, err := diskFree(dir)
	if err != nil {
		return nil, fmt.Errorf("backup: free space of %s: %w", dir, err)
	}
	if need := uint64(size + snapshotHeadroom(size)); free < need {
		return nil, fmt.Errorf("%w: a backup first copies the store (%s) into %s and needs %s free there, keeping %s for ingest; %s is free",
			ErrNoSpace, bytesText(size), dir, bytesText(int64(need)), bytesText(snapshotHeadroom(size)), bytesText(int64(free)))
	}
	f, err := os.CreateTemp(dir, snapshotPattern)
	if err != nil {
		return nil, fmt.Errorf("backup: create copy in %s: %w", dir, err)
	}
	fail := func(err error) (*Snapshot, error) {
		f.Close()
		os.Remove(f.Name())
		return nil, err
	}
	limit := copyLimit(size)
	cctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	start := time.Now()
	if _, err := btx.WriteTo(&ctxWriter{ctx: cctx, w: f}); err != nil {
		// bbolt does not wrap every error it returns: ask the contexts.
		switch {
		case ctx.Err() != nil:
			return fail(fmt.Errorf("backup: copy the store: %w", ctx.Err()))
		case cctx.Err() != nil:
			return fail(fmt.Errorf("backup: copying the store (%s) into %s took longer than %s; the disk is stalled or much too slow: %w",
				bytesText(size), dir, limit, cctx.Err()))
		}
		return fail(fmt.Errorf("backup: copy the store into %s: %w", f.Name(), err))
	}
	took := time.Since(start)
	if err := btx.Rollback(); err != nil {
		return fail(fmt.Errorf("backup: end read transaction: %w", err))
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fail(fmt.Errorf("backup: rewind %s: %w", f.Name(), err))
	}
	slog.Info("backup: store copied", "bytes", size, "took", took.Round(time.Millisecond), "file", f.Name())
	return &Snapshot{Size: size, f: f, s: s}, nil
}

func (s *Store) beginBackup() error {
	s.backupMu.Lock()
	defer s.backupMu.Unlock()
	if !s.backup.since.IsZero() {
		return fmt.Errorf("%w (since %s, %s); try again when it has finished", ErrBackupRunning,
			s.backup.since.UTC().Format(time.RFC3339), bytesText(s.backup.size))
	}
	s.backup = backupSlot{since: time.Now()}
	return nil
}

func (s *Store) endBackup() {
	s.backupMu.Lock()
	s.backup = backupSlot{}
	s.backupMu.Unlock()
}

// snapshotHeadroom is the free space a backup leaves on the disk after its
// copy: a tenth of the store, at least 64 MiB, for the reports that arrive
// while the copy exists.
func snapshotHeadroom(size int64) int64 { return max(size/10, 64<<20) }

// copyLimit bounds how long the copy may hold its read transaction: a minute
// plus the time to copy the store at 16 MiB/s, far below any local disk, so
// only a stalled disk reaches it. The copy reads and writes on the collector
// host alone; no client can slow it down. Tests shorten it.
var copyLimit = func(size int64) time.Duration {
	return time.Minute + time.Duration(size/(16<<20))*time.Second
}

// diskFree is the space an unprivileged user may still write in dir; tests
// replace it.
var diskFree = freeBytes

// removeSnapshotLeftovers deletes copies a crashed collector left in dir. It
// runs once the store's file lock is held, so no running collector's copy is
// touched.
func removeSnapshotLeftovers(dir string) {
	leftovers, err := filepath.Glob(filepath.Join(dir, snapshotPattern))
	if err != nil {
		return
	}
	for _, p := range leftovers {
		if err := os.Remove(p); err != nil {
			slog.Warn("backup: cannot remove a copy left by an earlier run", "file", p, "err", err)
			continue
		}
		slog.Info("backup: removed a copy left by an earlier run", "file", p)
	}
}

// ctxWriter fails the copy once its context ends.
type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (w *ctxWriter) Write(p []byte) (int, error) {
	if err := w.ctx.Err(); err != nil {
		return 0, err
	}
	return w.w.Write(p)
}

func bytesText(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	default:
		return fmt.Sprintf("%d KiB", (n+1023)/1024)
	}
}
