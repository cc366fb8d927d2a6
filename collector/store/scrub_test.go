package store

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// TestScrubFreePagesInChunks: a scrub that walks the file a chunk at a time
// (one short write transaction each) still leaves no byte of deleted data
// in any free page, and waits for a reader that could still see them.
func TestScrubFreePagesInChunks(t *testing.T) {
	requireBolt(t)
	old := scrubChunkPages
	scrubChunkPages = 8
	t.Cleanup(func() { scrubChunkPages = old })

	s, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	marker := []byte("ERASE-ME-" + strings.Repeat("x", 200))
	bucket := []byte("scrub-test")
	if err := s.DB().Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucket)
		if err != nil {
			return err
		}
		for i := range 400 {
			if err := b.Put([]byte{byte(i >> 8), byte(i)}, marker); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.DB().Update(func(tx *bolt.Tx) error { return tx.DeleteBucket(bucket) }); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(s.Path()); !bytes.Contains(b, marker) {
		t.Fatal("the deleted values are not in the file before the scrub: the test shows nothing")
	}

	// A reader open since before the scrub holds it off until it ends.
	rtx, err := s.DB().Begin(false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.ScrubFreePages(50 * time.Millisecond); err == nil {
		t.Error("the scrub went ahead while a read transaction was open")
	}
	rtx.Rollback()

	n, err := s.ScrubFreePages(5 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	info := s.DB().Info()
	if pages := fileSize(t, s) / int64(info.PageSize); pages <= int64(2*scrubChunkPages) || n == 0 {
		t.Fatalf("%d pages zeroed in a file of %d pages: the scrub should span several chunks", n, pages)
	}
	if b, _ := os.ReadFile(s.Path()); bytes.Contains(b, marker) {
		t.Error("deleted values are still in the file after the scrub")
	}
}
