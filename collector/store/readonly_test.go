package store

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

func TestOpenReadOnlyReadsAStoppedStoreWithoutChangingIt(t *testing.T) {
	requireBolt(t)
	dir := t.TempDir()
	s := openTest(t, dir, Options{})
	addDevice(t, s, "d-1")
	t0 := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	if _, err := s.Ingest("d-1", []*pb.StoredReport{stored("d-1", 1, t0), stored("d-1", 2, t0.Add(time.Hour))}); err != nil {
		t.Fatal(err)
	}
	// While the collector runs, the file is locked: say what to do.
	if _, err := OpenReadOnly(dir); err == nil || !strings.Contains(err.Error(), "locked by a running collector") || !strings.Contains(err.Error(), "farmwatch backup") {
		t.Fatalf("open of a running store: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "farmwatch.db")
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{dir, path} { // a data dir, or the file itself
		ro, err := OpenReadOnly(p)
		if err != nil {
			t.Fatalf("open %s: %v", p, err)
		}
		n := 0
		if err := ro.ScanReports(context.Background(), time.Time{}, time.Time{}, 0, func(b []*pb.StoredReport) error { n += len(b); return nil }); err != nil || n != 2 {
			t.Fatalf("scan of %s: %d reports, %v", p, n, err)
		}
		if _, err := ro.Ingest("d-1", []*pb.StoredReport{stored("d-1", 3, t0.Add(2*time.Hour))}); !errors.Is(err, bolt.ErrDatabaseReadOnly) {
			t.Fatalf("ingest into a read-only store: %v", err)
		}
		if err := ro.Close(); err != nil {
			t.Fatal(err)
		}
	}
	after, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Fatal("the store file changed under a read-only open")
	}
}

func TestOpenReadOnlyRefusesWhatIsNoStore(t *testing.T) {
	requireBolt(t)
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	boltFile := func(name string, fill func(tx *bolt.Tx) error) string {
		p := filepath.Join(dir, name)
		db, err := bolt.Open(p, 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if err := db.Update(fill); err != nil {
			t.Fatal(err)
		}
		return p
	}
	foreign := boltFile("foreign.db", func(tx *bolt.Tx) error {
		b, err := tx.CreateBucket([]byte("widgets"))
		if err != nil {
			return err
		}
		return b.Put([]byte("k"), []byte("v"))
	})
	noSchema := boltFile("no-schema.db", func(tx *bolt.Tx) error {
		_, err := tx.CreateBucket(bucketMeta)
		return err
	})
	newer := boltFile("newer.db", func(tx *bolt.Tx) error {
		for _, b := range allBuckets {
			if _, err := tx.CreateBucket(b); err != nil {
				return err
			}
		}
		return tx.Bucket(bucketMeta).Put(keySchema, u64(SchemaVersion+1))
	})
	old := filepath.Join(dir, "v1")
	os.Mkdir(old, 0o700)
	writeV1(t, old)

	for _, tc := range []struct {
		name, path string
		want       []string
	}{
		{"text file", write("notes.txt", []byte("not a database, just some notes\n")), []string{"notes.txt is not a farmwatch store", "not a bbolt database"}},
		{"empty file", write("empty.db", nil), []string{"empty.db is not a farmwatch store", "empty"}},
		{"missing file", filepath.Join(dir, "missing.db"), []string{"open store", "no such file"}},
		{"dir without a store", t.TempDir(), []string{"holds no farmwatch.db"}},
		{"bbolt file of something else", foreign, []string{"foreign.db is not a farmwatch store", "without farmwatch's meta bucket"}},
		{"meta bucket without a schema", noSchema, []string{"no-schema.db is not a farmwatch store", "no schema version"}},
		{"newer schema", newer, []string{"newer than this farmwatch reads", "upgrade this one"}},
		{"older schema", old, []string{"farmwatch store of schema 1, older than this farmwatch reads", "farmwatch serve --data DIR", "a copy of it"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := OpenReadOnly(tc.path)
			if err == nil {
				s.Close()
				t.Fatal("opened")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
	// The older store is left as it was: not migrated.
	ro, err := bolt.Open(filepath.Join(old, "farmwatch.db"), 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	ro.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketMeta).Get(keySchema); !bytes.Equal(v, u64(1)) {
			t.Errorf("schema of the old store is now %x", v)
		}
		return nil
	})
	var se *SchemaError
	if _, err := OpenReadOnly(old); !errors.As(err, &se) || se.Have != 1 || se.Want != SchemaVersion {
		t.Errorf("older schema: %v", err)
	}
	if _, err := OpenReadOnly(foreign); !errors.Is(err, ErrNotStore) {
		t.Errorf("foreign file: %v", err)
	}
}
