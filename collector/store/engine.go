package store

// The store reads and writes ordered key-value buckets through a kvEngine, so
// that one body of code (hires, devices, reports, alerts, the analysis
// buckets) runs on either backend: bbolt, embedded in one collector
// (engine_bolt.go), or a PostgreSQL-protocol database shared by several
// collectors (engine_pg.go). A bucket is an ordered map of byte keys to byte
// values; keys compare as unsigned bytes on both backends.
//
// Errors of reads: Get and the cursor methods return no error, as bbolt's do.
// A backend whose reads can fail (a lost connection) remembers the first such
// error in the transaction, answers every later call as if the data were
// absent, and fails Commit with it, so a transaction that read wrongly never
// commits.

import "bytes"

// kvEngine opens transactions on one store.
type kvEngine interface {
	// View runs fn in a read-only transaction.
	View(fn func(kvTx) error) error
	// Update runs fn in a writable transaction and commits it when fn
	// returns nil. A backend with optimistic concurrency (serializable
	// isolation) may run fn more than once when a commit conflicts: fn must
	// keep no effect of an attempt outside the transaction other than
	// through kvTx.OnCommit.
	Update(fn func(kvTx) error) error
	// Close releases the engine; transactions still open are invalid.
	Close() error
}

// kvTx is one transaction.
type kvTx interface {
	// Bucket returns a top-level bucket, or nil when it does not exist.
	Bucket(name []byte) kvBucket
	CreateBucketIfNotExists(name []byte) (kvBucket, error)
	DeleteBucket(name []byte) error
	// OnCommit runs fn after the transaction has committed (and never for
	// an attempt that rolled back).
	OnCommit(fn func())
	Writable() bool
}

// kvBucket is an ordered map of keys to values, which may hold buckets of
// its own.
type kvBucket interface {
	// Get returns the value of key, or nil when the key is absent (or names
	// a nested bucket). An empty value is a non-nil empty slice. The value is
	// valid only until the transaction ends and must not be changed.
	Get(key []byte) []byte
	Put(key, value []byte) error
	Delete(key []byte) error
	Cursor() kvCursor
	// ForEach calls fn for each key in order until fn returns an error;
	// nested buckets are not visited (ForEachBucket lists them).
	ForEach(fn func(k, v []byte) error) error
	// ForEachBucket calls fn with the name of each nested bucket, in order.
	ForEachBucket(fn func(name []byte) error) error
	// NextSequence returns the bucket's next sequence number: 1, 2, 3...
	// Rolled back attempts may leave gaps on some backends.
	NextSequence() (uint64, error)
	// KeyN counts the keys.
	KeyN() int
	// Bucket returns a nested bucket, or nil.
	Bucket(name []byte) kvBucket
	CreateBucketIfNotExists(name []byte) (kvBucket, error)
	DeleteBucket(name []byte) error
}

// kvCursor walks a bucket in key order. Each method returns the key and
// value it lands on, or nil, nil past either end. Nested buckets are
// skipped. After a write to the bucket during a walk (a Put, a Delete, the
// cursor's own Delete), the caller repositions with First, Last or Seek
// before stepping again: bbolt's cursor may skip a key when stepped after a
// write (the PostgreSQL engine's goes on from the key it is on, which is
// also correct for a caller that repositions).
type kvCursor interface {
	First() (k, v []byte)
	Last() (k, v []byte)
	// Seek moves to the first key >= seek.
	Seek(seek []byte) (k, v []byte)
	Next() (k, v []byte)
	Prev() (k, v []byte)
	// Delete removes the key the cursor is on.
	Delete() error
}

// kvPrefetcher is a transaction that can read many keys of a top-level
// bucket in one step, ahead of the Gets that will ask for them: on
// PostgreSQL a query per thousand keys instead of a round trip per key.
// bbolt has nothing to gain (its Gets read mapped pages) and does not
// implement it. Prefetching changes no result, only the number of trips.
type kvPrefetcher interface {
	Prefetch(bucket []byte, keys [][]byte)
}

// kvPrefixCursorer is a bucket that reads the keys of a prefix better when
// told about how many there are: on PostgreSQL one query for a cluster's
// links rather than pages that start small. bbolt reads mapped pages and
// does not implement it.
type kvPrefixCursorer interface {
	PrefixCursor(prefix []byte, rows int) kvCursor
}

// forEachRecord calls fn for each key of b that holds no zero byte, in
// order: the records of a bucket that keeps entries of its own after each
// record's key (the devices bucket: a device, then its report index under
// its id, a zero byte and more), without visiting those entries. A backend
// that keeps the records apart walks them alone (kvRecordWalker); bbolt
// seeks from one record to the next past each one's entries.
func forEachRecord(b kvBucket, fn func(k, v []byte) error) error {
	if w, ok := b.(kvRecordWalker); ok {
		if done, err := w.ForEachRecord(fn); done {
			return err
		}
	}
	c := b.Cursor()
	for k, v := c.First(); k != nil; {
		if i := bytes.IndexByte(k, 0); i >= 0 { // entries without a record
			k, v = c.Seek(append(bytes.Clone(k[:i]), 1))
			continue
		}
		if err := fn(k, v); err != nil {
			return err
		}
		k, v = c.Seek(append(bytes.Clone(k), 1))
	}
	return nil
}

// kvRecordWalker is a bucket that may keep its records (keys without a zero
// byte) apart from the entries after them; done says it walked them, or
// that forEachRecord must.
type kvRecordWalker interface {
	ForEachRecord(fn func(k, v []byte) error) (done bool, err error)
}
