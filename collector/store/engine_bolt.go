package store

import (
	"bytes"

	bolt "go.etcd.io/bbolt"
)

// boltEngine is the embedded backend: one bbolt file, one writer at a time.
type boltEngine struct{ db *bolt.DB }

func (e boltEngine) View(fn func(kvTx) error) error {
	return e.db.View(func(tx *bolt.Tx) error { return fn(boltTx{tx}) })
}

func (e boltEngine) Update(fn func(kvTx) error) error {
	return e.db.Update(func(tx *bolt.Tx) error { return fn(boltTx{tx}) })
}

func (e boltEngine) Close() error { return e.db.Close() }

type boltTx struct{ tx *bolt.Tx }

func (t boltTx) Bucket(name []byte) kvBucket { return wrapBoltBucket(t.tx.Bucket(name)) }

func (t boltTx) CreateBucketIfNotExists(name []byte) (kvBucket, error) {
	b, err := t.tx.CreateBucketIfNotExists(name)
	if err != nil {
		return nil, err
	}
	return boltBucket{b}, nil
}

func (t boltTx) DeleteBucket(name []byte) error { return t.tx.DeleteBucket(name) }
func (t boltTx) OnCommit(fn func())             { t.tx.OnCommit(fn) }
func (t boltTx) Writable() bool                 { return t.tx.Writable() }

// wrapBoltBucket keeps an absent bucket a nil interface.
func wrapBoltBucket(b *bolt.Bucket) kvBucket {
	if b == nil {
		return nil
	}
	return boltBucket{b}
}

type boltBucket struct{ b *bolt.Bucket }

func (b boltBucket) Get(key []byte) []byte          { return b.b.Get(key) }
func (b boltBucket) Delete(key []byte) error        { return b.b.Delete(key) }
func (b boltBucket) Cursor() kvCursor               { return boltCursor{b.b.Cursor()} }
func (b boltBucket) NextSequence() (uint64, error)  { return b.b.NextSequence() }
func (b boltBucket) Bucket(name []byte) kvBucket    { return wrapBoltBucket(b.b.Bucket(name)) }
func (b boltBucket) DeleteBucket(name []byte) error { return b.b.DeleteBucket(name) }

// emptyValue is what a nil value is stored as. bbolt keeps the value given
// to Put as it is until the commit, and its cursor and ForEach hand a nil
// value back in that transaction, which is how they mark a nested bucket:
// a key put with a nil value would read as absent (Get) or be skipped as a
// bucket (cursors, ForEach) until the commit.
var emptyValue = []byte{}

func (b boltBucket) Put(key, value []byte) error {
	if value == nil {
		value = emptyValue
	}
	return b.b.Put(key, value)
}

// KeyN walks the bucket's keys rather than taking bbolt's Stats().KeyN,
// which counts the keys of nested buckets and the buckets too, and counts
// only pages already written, not the writes of the transaction it is in.
func (b boltBucket) KeyN() int {
	n := 0
	c := b.b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if v != nil {
			n++
		}
	}
	return n
}

func (b boltBucket) CreateBucketIfNotExists(name []byte) (kvBucket, error) {
	nb, err := b.b.CreateBucketIfNotExists(name)
	if err != nil {
		return nil, err
	}
	return boltBucket{nb}, nil
}

// ForEach visits values only: bbolt hands a nested bucket to ForEach with a
// nil value, which is how it is told apart (an empty value is non-nil).
func (b boltBucket) ForEach(fn func(k, v []byte) error) error {
	return b.b.ForEach(func(k, v []byte) error {
		if v == nil {
			return nil
		}
		return fn(k, v)
	})
}

func (b boltBucket) ForEachBucket(fn func(name []byte) error) error {
	return b.b.ForEachBucket(fn)
}

// boltCursor skips nested buckets, which bbolt's cursor returns with a nil
// value.
type boltCursor struct{ c *bolt.Cursor }

func (c boltCursor) skip(k, v []byte, step func() ([]byte, []byte)) ([]byte, []byte) {
	for k != nil && v == nil {
		k, v = step()
	}
	return k, v
}

func (c boltCursor) First() ([]byte, []byte) { k, v := c.c.First(); return c.skip(k, v, c.c.Next) }
func (c boltCursor) Last() ([]byte, []byte)  { k, v := c.c.Last(); return c.skip(k, v, c.c.Prev) }
func (c boltCursor) Next() ([]byte, []byte)  { k, v := c.c.Next(); return c.skip(k, v, c.c.Next) }
func (c boltCursor) Prev() ([]byte, []byte)  { k, v := c.c.Prev(); return c.skip(k, v, c.c.Prev) }
func (c boltCursor) Delete() error           { return c.c.Delete() }

func (c boltCursor) Seek(seek []byte) ([]byte, []byte) {
	k, v := c.c.Seek(seek)
	return c.skip(k, v, c.c.Next)
}

var _ kvEngine = boltEngine{}

// walkFrom calls fn for each key of b from seek on, in key order, until fn
// returns false; nested buckets are skipped, as a kvCursor skips them. A
// kvCursor is an interface, so the bbolt cursor under it is allocated on the
// heap; on a bbolt bucket this walks with a cursor the compiler keeps on the
// stack, as the store did before the engine contract: the analysis scans
// the fingerprint index several times for every report.
func walkFrom(b kvBucket, seek []byte, fn func(k, v []byte) bool) {
	if bb, ok := b.(boltBucket); ok {
		c := bb.b.Cursor()
		for k, v := c.Seek(seek); k != nil; k, v = c.Next() {
			if v != nil && !fn(k, v) {
				return
			}
		}
		return
	}
	c := b.Cursor()
	for k, v := c.Seek(bytes.Clone(seek)); k != nil; k, v = c.Next() {
		if !fn(k, v) {
			return
		}
	}
}

// kvGet is b.Get(key) and kvPut b.Put(key, value) for the store's hot path.
// A key handed to an interface method escapes, so each []byte(id) the
// callers convert a key from would be allocated on the heap: on bbolt they
// call bbolt's own methods, which keep no key, so the conversions stay on
// the callers' stack as before the engine contract; another backend gets
// a copy of the key (its round trips cost far more).
func kvGet(b kvBucket, key []byte) []byte {
	if bb, ok := b.(boltBucket); ok {
		return bb.b.Get(key)
	}
	return b.Get(bytes.Clone(key))
}

func kvPut(b kvBucket, key, value []byte) error {
	if bb, ok := b.(boltBucket); ok {
		return bb.Put(key, value)
	}
	return b.Put(bytes.Clone(key), value)
}
