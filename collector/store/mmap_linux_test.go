package store

import (
	"math"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/farmwatch/farmwatch/internal/procmaps"
)

func mapped(t *testing.T, s *Store) int64 {
	t.Helper()
	n, err := procmaps.MappedBytes(s.Path())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestOpenMapsRoomToGrow: with the default map the store grows by megabytes
// without a remap (which would wait for every read transaction); with
// bbolt's own growth the same writes remap, so the test can see one.
func TestOpenMapsRoomToGrow(t *testing.T) {
	requireBolt(t)
	for _, tt := range []struct {
		name    string
		mmap    int
		remaps  bool
		atLeast int64
	}{
		{"default", 0, false, minMmapSize},
		{"bbolt's own growth", -1, true, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Open(t.TempDir(), Options{InitialMmapSize: tt.mmap})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			addDevice(t, s, "d-1")
			before, base := mapped(t, s), s.bolt.Info().Data
			if before < tt.atLeast {
				t.Fatalf("the store maps %d bytes, want at least %d", before, tt.atLeast)
			}
			for i := range 20 {
				ingestN(t, s, "d-1", 1+i*500, 500)
			}
			after := mapped(t, s)
			remapped := after != before || s.bolt.Info().Data != base
			var size int64
			s.bolt.View(func(tx *bolt.Tx) error { size = tx.Size(); return nil })
			t.Logf("map %d -> %d bytes as the store grew to %d bytes", before, after, size)
			if remapped != tt.remaps {
				t.Fatalf("map %d -> %d bytes: remapped %v, want %v", before, after, remapped, tt.remaps)
			}
		})
	}
}

// TestOpenFallsBackWhenMapRefused: a map the address space cannot hold
// leaves the store on bbolt's own growth instead of failing to start.
func TestOpenFallsBackWhenMapRefused(t *testing.T) {
	requireBolt(t)
	s, err := Open(t.TempDir(), Options{InitialMmapSize: math.MaxInt})
	if err != nil {
		t.Fatalf("open with a map too large to make: %v", err)
	}
	defer s.Close()
	if n := mapped(t, s); n == 0 || n >= 1<<30 {
		t.Fatalf("the store maps %d bytes, want bbolt's small initial map", n)
	}
	addDevice(t, s, "d-1")
	ingestN(t, s, "d-1", 1, 10)
}
