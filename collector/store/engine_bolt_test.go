package store

import (
	"bytes"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// The bbolt adapter keeps the contract's semantics (engine.go): an empty
// value is a non-nil empty slice, in the transaction that wrote it and
// after; cursors and ForEach skip nested buckets, which ForEachBucket lists.
func TestBoltEngineSemantics(t *testing.T) {
	db, err := bolt.Open(filepath.Join(t.TempDir(), "kv.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	e := boltEngine{db}
	defer e.Close()
	check := func(tx kvTx, when string) {
		t.Helper()
		b := tx.Bucket([]byte("top"))
		if b == nil {
			t.Fatalf("%s: no bucket", when)
		}
		for _, k := range []string{"a-nil", "b-empty"} {
			if v := b.Get([]byte(k)); v == nil || len(v) != 0 {
				t.Errorf("%s: Get(%s) = %#v, want a non-nil empty value", when, k, v)
			}
		}
		if v := b.Get([]byte("c-nested")); v != nil {
			t.Errorf("%s: Get of a nested bucket = %q, want nil", when, v)
		}
		if b.Get([]byte("zz-absent")) != nil {
			t.Errorf("%s: Get of an absent key is not nil", when)
		}
		var keys []string
		c := b.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if v == nil {
				t.Errorf("%s: cursor gave key %s a nil value", when, k)
			}
			keys = append(keys, string(k))
		}
		if want := "a-nil b-empty d-value"; join(keys) != want {
			t.Errorf("%s: cursor forward %q, want %q", when, join(keys), want)
		}
		keys = keys[:0]
		for k, _ := c.Last(); k != nil; k, _ = c.Prev() {
			keys = append(keys, string(k))
		}
		if want := "d-value b-empty a-nil"; join(keys) != want {
			t.Errorf("%s: cursor backward %q, want %q", when, join(keys), want)
		}
		if k, v := c.Seek([]byte("c")); string(k) != "d-value" || !bytes.Equal(v, []byte("v")) {
			t.Errorf("%s: Seek past a nested bucket landed on %q=%q", when, k, v)
		}
		keys = keys[:0]
		b.ForEach(func(k, v []byte) error { keys = append(keys, string(k)); return nil })
		if want := "a-nil b-empty d-value"; join(keys) != want {
			t.Errorf("%s: ForEach %q, want %q", when, join(keys), want)
		}
		keys = keys[:0]
		b.ForEachBucket(func(k []byte) error { keys = append(keys, string(k)); return nil })
		if want := "c-nested"; join(keys) != want {
			t.Errorf("%s: ForEachBucket %q, want %q", when, join(keys), want)
		}
		if n := b.KeyN(); n != 3 {
			t.Errorf("%s: KeyN %d, want 3", when, n)
		}
	}
	if err := e.Update(func(tx kvTx) error {
		b, err := tx.CreateBucketIfNotExists([]byte("top"))
		if err != nil {
			return err
		}
		for k, v := range map[string][]byte{"a-nil": nil, "b-empty": {}, "d-value": []byte("v")} {
			if err := b.Put([]byte(k), v); err != nil {
				return err
			}
		}
		nb, err := b.CreateBucketIfNotExists([]byte("c-nested"))
		if err != nil {
			return err
		}
		if err := nb.Put([]byte("x"), []byte("y")); err != nil {
			return err
		}
		check(tx, "in the writing transaction")
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	e.View(func(tx kvTx) error { check(tx, "after the commit"); return nil })
	if err := e.Update(func(tx kvTx) error {
		b := tx.Bucket([]byte("top"))
		for i := 0; i < 2; i++ {
			if n, err := b.NextSequence(); err != nil || n != uint64(i+1) {
				t.Errorf("NextSequence = %d, %v; want %d", n, err, i+1)
			}
		}
		return b.DeleteBucket([]byte("c-nested"))
	}); err != nil {
		t.Fatal(err)
	}
	e.View(func(tx kvTx) error {
		if tx.Bucket([]byte("top")).Bucket([]byte("c-nested")) != nil {
			t.Error("a deleted nested bucket is still there")
		}
		if tx.Bucket([]byte("absent")) != nil {
			t.Error("an absent bucket is not a nil interface")
		}
		return nil
	})
}

func join(s []string) string {
	var b bytes.Buffer
	for i, x := range s {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(x)
	}
	return b.String()
}

// The adapter is value types over bbolt's own: reading through it costs no
// allocation beyond bbolt's, so the ingest path reads as fast as it did on
// bbolt directly. Each read is measured both ways in the same transaction,
// read-only and writable (bbolt caches buckets only in the latter).
func TestBoltEngineReadsCostNoAllocations(t *testing.T) {
	requireBolt(t)
	s := openTest(t, t.TempDir(), Options{})
	defer s.Close()
	addDevice(t, s, "d-1")
	addDevice(t, s, "d-2")
	key := []byte("d-1")
	check := func(tx *Tx) {
		t.Helper()
		raw := tx.tx.(boltTx).tx
		compare := func(what string, direct, adapted func()) {
			t.Helper()
			d, a := testing.AllocsPerRun(200, direct), testing.AllocsPerRun(200, adapted)
			if a > d {
				t.Errorf("%s (writable %v): %v allocations through the engine, %v on bbolt directly", what, raw.Writable(), a, d)
			}
		}
		compare("Bucket and Get",
			func() { raw.Bucket(bucketDevices).Get(key) },
			func() { tx.tx.Bucket(bucketDevices).Get(key) })
		compare("Tx.GetView",
			func() { raw.Bucket(bucketDevices).Get(key) },
			func() { tx.GetView(bucketDevices, key) })
		// Keys converted from strings stay on the caller's stack.
		id := string(key)
		compare("Tx.GetView of a converted key",
			func() { raw.Bucket(bucketDevices).Get([]byte(id)) },
			func() { tx.GetView(bucketDevices, []byte(id)) })
		compare("Tx.HireExists",
			func() { raw.Bucket(bucketHires).Get([]byte("h-" + id)) },
			func() { tx.HireExists("h-" + id) })
		scanned := func(n int) {
			if n == 0 {
				t.Fatal("the scan saw nothing")
			}
		}
		compare("Tx.Scan",
			func() {
				n := 0
				c := raw.Bucket(bucketDevices).Cursor()
				for k, _ := c.Seek(key); k != nil && bytes.HasPrefix(k, key); k, _ = c.Next() {
					n++
				}
				scanned(n)
			},
			func() {
				n := 0
				tx.Scan(bucketDevices, key, func(k, v []byte) bool { n++; return true })
				scanned(n)
			})
		rc, kc := raw.Bucket(bucketDevices).Cursor(), tx.tx.Bucket(bucketDevices).Cursor()
		compare("cursor Seek, Next, Last, Prev",
			func() {
				for k, _ := rc.Seek(key); k != nil; k, _ = rc.Next() {
				}
				rc.Last()
				rc.Prev()
			},
			func() {
				for k, _ := kc.Seek(key); k != nil; k, _ = kc.Next() {
				}
				kc.Last()
				kc.Prev()
			})
	}
	s.View(func(tx *Tx) error { check(tx); return nil })
	s.Update(func(tx *Tx) error { check(tx); return nil })
}
