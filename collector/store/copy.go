package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	bolt "go.etcd.io/bbolt"
)

// Moving a collector's store from its bbolt file to PostgreSQL (`farmwatch
// store copy`). The copy reads the file of a stopped collector in one
// read-only bbolt transaction, so it sees one consistent state, and writes
// it through the PostgreSQL engine in transactions of bounded size: a store
// of many gigabytes never becomes one giant transaction. The meta bucket's
// schema version is the completion marker: it is written last, after every
// other key, so a copy that was interrupted leaves a database without it,
// which a later copy recognises and refuses. Then both sides are read back
// through the engines and compared bucket by bucket: key counts, a SHA-256
// over the keys and values in order, and the sequences.

// CopyOptions tune CopyToPostgres and VerifyCopy.
type CopyOptions struct {
	// Progress, when set, is called after each committed transaction of
	// the copy and after each bucket compared.
	Progress func(CopyProgress)
	// BatchKeys and BatchBytes bound one transaction of the copy: it is
	// committed once it holds this many keys or this many bytes of keys and
	// values (a larger single value goes alone). 0 picks the defaults.
	BatchKeys  int
	BatchBytes int
}

const (
	defaultCopyBatchKeys  = 5000
	defaultCopyBatchBytes = 8 << 20
)

// CopyProgress says how far a copy or a verification has come.
type CopyProgress struct {
	Phase  string // "copy" or "verify"
	Bucket string // the bucket at work, as a path ("applicant_staging/IMPORT")
	// Keys and Bytes (keys and values) done so far in this phase, over all
	// buckets.
	Keys, Bytes int64
}

// BucketSum is one bucket's summary, the same on both sides of a good copy.
type BucketSum struct {
	// Path names the bucket: its name and its parents', each
	// percent-escaped, joined with "/" (as the PostgreSQL tables name it).
	Path     string
	Keys     int64
	Bytes    int64 // keys and values
	Sequence uint64
	// SHA256 is over the bucket's keys in order, each key and its value
	// preceded by its length (8 bytes, big-endian).
	SHA256 [sha256.Size]byte
}

// CopyResult is what was copied, or compared.
type CopyResult struct {
	Source  string // the bbolt file
	Target  string // host:port/database
	Buckets []BucketSum
	Keys    int64
	Bytes   int64
	// Checksum is a SHA-256 over every bucket's summary in order: its path,
	// key count, sequence and SHA-256, each length-prefixed or fixed-size.
	Checksum [sha256.Size]byte
	// Copied is how long writing took (0 for VerifyCopy); Verified how long
	// reading both sides back took.
	Copied, Verified time.Duration
}

// CopyToPostgres copies the bbolt store of a stopped collector (its data
// dir, or the farmwatch.db file itself) into the empty PostgreSQL database
// at url, then verifies the copy. It refuses a file locked by a running
// collector, a file of another schema version than this farmwatch's, and a
// database that already holds store data: it never merges or overwrites.
func CopyToPostgres(ctx context.Context, dataDir, url string, opts CopyOptions) (*CopyResult, error) {
	db, err := openCopySource(dataDir)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	e, err := openPGEngine(ctx, url)
	if err != nil {
		return nil, err
	}
	defer e.Close()
	if err := e.checkCopyTarget(ctx); err != nil {
		return nil, err
	}
	start := time.Now()
	if err := copyStore(ctx, db, e, opts); err != nil {
		return nil, err
	}
	copied := time.Since(start)
	res, err := verifyStore(ctx, db, e, opts)
	if err != nil {
		// A copy that does not read back as written must not look finished.
		if derr := e.dropCopyMarker(ctx); derr != nil {
			return nil, fmt.Errorf("%w; removing the completion marker also failed (%v): do not start collectors on %s; drop and recreate the database, then copy again", err, derr, e.target)
		}
		return nil, fmt.Errorf("%w; the completion marker was removed: drop and recreate the database %s, then copy again", err, e.target)
	}
	res.Copied = copied
	return res, nil
}

// VerifyCopy compares the bbolt store of a stopped collector with the copy
// in the PostgreSQL database at url, changing neither.
func VerifyCopy(ctx context.Context, dataDir, url string, opts CopyOptions) (*CopyResult, error) {
	db, err := openCopySource(dataDir)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	e, err := openPGEngine(ctx, url)
	if err != nil {
		return nil, err
	}
	defer e.Close()
	return verifyStore(ctx, db, e, opts)
}

// openCopySource opens the bbolt file read-only and checks that it is a
// farmwatch store of this binary's schema.
func openCopySource(path string) (*bolt.DB, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	if st.IsDir() {
		dir := path
		path = filepath.Join(dir, File)
		if st, err = os.Stat(path); err != nil {
			return nil, fmt.Errorf("%s holds no %s: give the data dir of a stopped collector: %w", dir, File, err)
		}
	}
	if st.Size() == 0 {
		return nil, fmt.Errorf("%s is %w: the file is empty", path, ErrNotStore)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	switch {
	case errors.Is(err, bolt.ErrTimeout):
		return nil, fmt.Errorf("open store %s: %w (a running collector?): stop the collector first, so that the copy holds its last state, then copy", path, ErrLocked)
	case errors.Is(err, bolt.ErrInvalid), errors.Is(err, bolt.ErrVersionMismatch), errors.Is(err, bolt.ErrChecksum):
		return nil, fmt.Errorf("%s is %w: not a bbolt database (%v)", path, ErrNotStore, err)
	case err != nil:
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	if err := db.View(func(tx *bolt.Tx) error { return checkCopySchema(tx, path) }); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// checkCopySchema accepts only a store of SchemaVersion: the PostgreSQL
// store starts where bbolt's migrations end, so an older file is migrated
// by a collector first.
func checkCopySchema(tx *bolt.Tx, path string) error {
	meta := tx.Bucket(bucketMeta)
	if meta == nil {
		return fmt.Errorf("%s is %w: a bbolt database without farmwatch's meta bucket", path, ErrNotStore)
	}
	v := meta.Get(keySchema)
	have := uint64(1) // written before the schema key existed
	switch {
	case v == nil && tx.Bucket(bucketDevices) != nil && tx.Bucket(bucketHires) != nil:
	case len(v) != 8:
		return fmt.Errorf("%s is %w: its meta bucket holds no schema version", path, ErrNotStore)
	default:
		have = binary.BigEndian.Uint64(v)
	}
	switch {
	case have < SchemaVersion:
		return fmt.Errorf("%s is a farmwatch store of schema %d, older than this farmwatch's (%d): open it once with this farmwatch's collector (farmwatch serve --data DIR), which migrates it, stop the collector, then copy", path, have, SchemaVersion)
	case have > SchemaVersion:
		return fmt.Errorf("%s is a farmwatch store of schema %d, newer than this farmwatch's (%d): copy it with the farmwatch that wrote it, or upgrade this one", path, have, SchemaVersion)
	}
	return nil
}

// copyBucket is one bucket of the source, found by walking the file.
type copyBucket struct {
	names [][]byte // the names from the top level down
	path  string   // pgBucketPath of names
}

// boltBuckets lists every bucket of the file, nested ones too, depth
// first, each level in name order.
func boltBuckets(tx *bolt.Tx) ([]copyBucket, error) {
	var out []copyBucket
	var visit func(names [][]byte, path string, b *bolt.Bucket) error
	visit = func(names [][]byte, path string, b *bolt.Bucket) error {
		out = append(out, copyBucket{names: names, path: path})
		return b.ForEachBucket(func(name []byte) error {
			sub := append(names[:len(names):len(names)], bytes.Clone(name))
			return visit(sub, pgBucketPath(path, name), b.Bucket(name))
		})
	}
	err := tx.ForEach(func(name []byte, b *bolt.Bucket) error {
		return visit([][]byte{bytes.Clone(name)}, pgBucketPath("", name), b)
	})
	return out, err
}

func boltBucketAt(tx *bolt.Tx, names [][]byte) *bolt.Bucket {
	b := tx.Bucket(names[0])
	for _, n := range names[1:] {
		if b == nil {
			return nil
		}
		b = b.Bucket(n)
	}
	return b
}

func kvBucketAt(tx kvTx, names [][]byte) kvBucket {
	b := tx.Bucket(names[0])
	for _, n := range names[1:] {
		if b == nil {
			return nil
		}
		b = b.Bucket(n)
	}
	return b
}

func kvCreateBucketAt(tx kvTx, names [][]byte) (kvBucket, error) {
	b, err := tx.CreateBucketIfNotExists(names[0])
	for _, n := range names[1:] {
		if err != nil {
			return nil, err
		}
		b, err = b.CreateBucketIfNotExists(n)
	}
	return b, err
}

// isCopyMarker tells the key written last.
func isCopyMarker(names [][]byte, k []byte) bool {
	return len(names) == 1 && bytes.Equal(names[0], bucketMeta) && bytes.Equal(k, keySchema)
}

// copyStore writes every bucket, key and sequence of the file to the
// engine, the completion marker last.
func copyStore(ctx context.Context, db *bolt.DB, e *pgEngine, opts CopyOptions) error {
	maxKeys, maxBytes := opts.BatchKeys, opts.BatchBytes
	if maxKeys <= 0 {
		maxKeys = defaultCopyBatchKeys
	}
	if maxBytes <= 0 {
		maxBytes = defaultCopyBatchBytes
	}
	// One read transaction for the whole copy: one consistent state, and
	// keys and values that stay valid (the file's memory map) while the
	// batches that refer to them are written.
	return db.View(func(btx *bolt.Tx) error {
		buckets, err := boltBuckets(btx)
		if err != nil {
			return err
		}
		var keys, size int64
		var marker []byte
		for _, cb := range buckets {
			b := boltBucketAt(btx, cb.names)
			seq := b.Sequence()
			if seq > math.MaxInt64 {
				return fmt.Errorf("store: bucket %s: sequence %d does not fit PostgreSQL's INT8", cb.path, seq)
			}
			var ks, vs [][]byte
			batchBytes := 0
			first := true
			flush := func() error {
				if err := ctx.Err(); err != nil {
					return fmt.Errorf("store: copy interrupted (%w) after %d keys: %s holds a partial copy: drop and recreate the database, then copy again", err, keys, e.target)
				}
				err := e.Update(func(tx kvTx) error {
					if _, err := kvCreateBucketAt(tx, cb.names); err != nil {
						return err
					}
					if first {
						tx.(*pgTx).setSequence(cb.path, seq)
					}
					if len(ks) > 0 {
						tx.(*pgTx).putRows(cb.path, ks, vs)
					}
					return nil
				})
				if err != nil {
					return fmt.Errorf("store: copy bucket %s: %w; %s holds a partial copy: drop and recreate the database, then copy again", cb.path, err, e.target)
				}
				keys += int64(len(ks))
				size += int64(batchBytes)
				first, ks, vs, batchBytes = false, ks[:0], vs[:0], 0
				if opts.Progress != nil {
					opts.Progress(CopyProgress{Phase: "copy", Bucket: cb.path, Keys: keys, Bytes: size})
				}
				return nil
			}
			c := b.Cursor()
			for k, v := c.First(); k != nil; k, v = c.Next() {
				if v == nil {
					continue // a nested bucket, copied in its turn
				}
				if isCopyMarker(cb.names, k) {
					marker = v
					continue
				}
				if len(ks) > 0 && (len(ks) >= maxKeys || batchBytes+len(k)+len(v) > maxBytes) {
					if err := flush(); err != nil {
						return err
					}
				}
				ks, vs = append(ks, k), append(vs, v)
				batchBytes += len(k) + len(v)
			}
			if first || len(ks) > 0 {
				if err := flush(); err != nil {
					return err
				}
			}
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("store: copy interrupted (%w) before its completion marker: %s holds a partial copy: drop and recreate the database, then copy again", err, e.target)
		}
		if marker == nil {
			// A schema 1 file has none; checkCopySchema let only
			// SchemaVersion through, so this store must say so.
			marker = u64(SchemaVersion)
		}
		err = e.Update(func(tx kvTx) error {
			return tx.Bucket(bucketMeta).Put(keySchema, marker)
		})
		if err != nil {
			return fmt.Errorf("store: write the completion marker: %w; %s holds a partial copy: drop and recreate the database, then copy again", err, e.target)
		}
		return nil
	})
}

// bucketDigest sums one bucket read through an engine.
func bucketDigest(b kvBucket) (keys, size int64, sum [sha256.Size]byte, err error) {
	h := sha256.New()
	var n [8]byte
	err = b.ForEach(func(k, v []byte) error {
		binary.BigEndian.PutUint64(n[:], uint64(len(k)))
		h.Write(n[:])
		h.Write(k)
		binary.BigEndian.PutUint64(n[:], uint64(len(v)))
		h.Write(n[:])
		h.Write(v)
		keys++
		size += int64(len(k) + len(v))
		return nil
	})
	h.Sum(sum[:0])
	return keys, size, sum, err
}

// verifyStore reads both sides back through the engines and compares them
// bucket by bucket. Every difference is named in the error.
func verifyStore(ctx context.Context, db *bolt.DB, e *pgEngine, opts CopyOptions) (*CopyResult, error) {
	start := time.Now()
	res := &CopyResult{Source: db.Path(), Target: e.target}
	src := boltEngine{db}
	targetSeqs, err := e.bucketSequences(ctx)
	if err != nil {
		return nil, err
	}
	var problems []string
	err = db.View(func(btx *bolt.Tx) error {
		buckets, err := boltBuckets(btx)
		if err != nil {
			return err
		}
		for _, cb := range buckets {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("store: verification interrupted: %w", err)
			}
			want := BucketSum{Path: cb.path, Sequence: boltBucketAt(btx, cb.names).Sequence()}
			err := src.View(func(tx kvTx) (err error) {
				want.Keys, want.Bytes, want.SHA256, err = bucketDigest(kvBucketAt(tx, cb.names))
				return err
			})
			if err != nil {
				return fmt.Errorf("store: read bucket %s of %s: %w", cb.path, db.Path(), err)
			}
			res.Buckets = append(res.Buckets, want)
			res.Keys += want.Keys
			res.Bytes += want.Bytes

			seq, ok := targetSeqs[cb.path]
			delete(targetSeqs, cb.path)
			if !ok {
				problems = append(problems, fmt.Sprintf("bucket %s is missing from the target", cb.path))
				continue
			}
			var got BucketSum
			err = e.View(func(tx kvTx) (err error) {
				b := kvBucketAt(tx, cb.names)
				if b == nil {
					return fmt.Errorf("bucket %s vanished from the target while it was read", cb.path)
				}
				got.Keys, got.Bytes, got.SHA256, err = bucketDigest(b)
				return err
			})
			if err != nil {
				return fmt.Errorf("store: read bucket %s of %s: %w", cb.path, e.target, err)
			}
			if got.Keys != want.Keys || got.SHA256 != want.SHA256 {
				problems = append(problems, fmt.Sprintf("bucket %s differs: the source has %d keys (sha256 %x), the target %d keys (sha256 %x)",
					cb.path, want.Keys, want.SHA256[:8], got.Keys, got.SHA256[:8]))
			}
			if seq != want.Sequence {
				problems = append(problems, fmt.Sprintf("bucket %s: sequence %d in the source, %d in the target", cb.path, want.Sequence, seq))
			}
			if opts.Progress != nil {
				opts.Progress(CopyProgress{Phase: "verify", Bucket: cb.path, Keys: res.Keys, Bytes: res.Bytes})
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for p := range targetSeqs {
		problems = append(problems, fmt.Sprintf("bucket %s is in the target but not in the source", p))
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("store: the copy in %s does not match %s: %s", e.target, db.Path(), strings.Join(problems, "; "))
	}
	res.Checksum = storeChecksum(res.Buckets)
	res.Verified = time.Since(start)
	return res, nil
}

// storeChecksum sums the buckets' summaries, in order.
func storeChecksum(buckets []BucketSum) [sha256.Size]byte {
	h := sha256.New()
	var n [8]byte
	for _, b := range buckets {
		binary.BigEndian.PutUint64(n[:], uint64(len(b.Path)))
		h.Write(n[:])
		h.Write([]byte(b.Path))
		binary.BigEndian.PutUint64(n[:], uint64(b.Keys))
		h.Write(n[:])
		binary.BigEndian.PutUint64(n[:], b.Sequence)
		h.Write(n[:])
		h.Write(b.SHA256[:])
	}
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	return sum
}

// The PostgreSQL side's own statements: what the key-value contract has no
// call for (listing every bucket with its sequence, setting a sequence).

// setSequence sets the sequence of the bucket at path, created earlier in
// the transaction.
func (tx *pgTx) setSequence(path string, seq uint64) {
	tx.queue(`UPDATE kv_buckets SET seq = $2 WHERE name = $1`, path, int64(seq))
}

// putRows inserts keys into the bucket at path, created earlier in the
// transaction, with one statement: a copy sends a statement per batch, not
// per key. The keys are new (the database was empty), so a key already
// there is an error rather than an overwrite.
func (tx *pgTx) putRows(path string, ks, vs [][]byte) {
	for i, v := range vs {
		if v == nil {
			vs[i] = []byte{} // nil would be NULL
		}
	}
	if ts := pgTables[path]; len(ts) > 0 {
		tx.copyRows(path, ts, ks, vs)
		return
	}
	tx.queue(`INSERT INTO kv (bucket, k, v) SELECT $1, t.k, t.v FROM unnest($2::BYTEA[], $3::BYTEA[]) AS t (k, v)`, path, ks, vs)
}

// copyRows loads keys into the tables of the bucket at path with COPY,
// several times faster than an INSERT of unnested arrays for rows of
// reports' size (BenchmarkPGMoveToTables). COPY does not ride in a
// pipelined batch: what is queued, and BEGIN, go first.
func (tx *pgTx) copyRows(path string, ts []*pgTable, ks, vs [][]byte) {
	rows := make(map[*pgTable][][]any, len(ts))
	for i := range ks {
		t := pgTableFor(ts, ks[i])
		if t == nil {
			tx.fail(fmt.Errorf("store: key %x fits none of the tables of bucket %s", ks[i], path))
			return
		}
		row, err := t.row(ks[i], vs[i])
		if err != nil {
			tx.fail(err)
			return
		}
		rows[t] = append(rows[t], row)
	}
	if tx.roundTrip(nil, nil) != nil {
		return
	}
	for _, t := range ts {
		if len(rows[t]) == 0 {
			continue
		}
		if _, err := tx.conn.CopyFrom(tx.ctx, pgx.Identifier{t.name}, names(t.columns()), pgx.CopyFromRows(rows[t])); err != nil {
			tx.fail(err)
			return
		}
	}
}

// checkCopyTarget refuses a database that holds any store data: a copy
// goes into an empty database only.
func (e *pgEngine) checkCopyTarget(ctx context.Context) error {
	var buckets, keys bool
	q := `SELECT EXISTS (SELECT 1 FROM kv_buckets), EXISTS (SELECT 1 FROM kv)`
	for _, t := range pgTablesInOrder() {
		q += ` OR EXISTS (SELECT 1 FROM ` + t.name + `)`
	}
	err := e.pool.QueryRow(ctx, q).Scan(&buckets, &keys)
	if err != nil {
		return fmt.Errorf("store: PostgreSQL at %s: look for store data: %w", e.target, err)
	}
	if !buckets && !keys {
		return nil
	}
	var marker []byte
	err = e.pool.QueryRow(ctx, `SELECT v FROM kv WHERE bucket = $1 AND k = $2`, pgBucketPath("", bucketMeta), keySchema).Scan(&marker)
	switch {
	case err == nil:
		schema := "?"
		if len(marker) == 8 {
			schema = fmt.Sprint(binary.BigEndian.Uint64(marker))
		}
		return fmt.Errorf("store: %s already holds a farmwatch store (schema %s): a copy goes only into an empty database and never merges or overwrites; give a new, empty database (createdb NAME), or drop and recreate this one if its data is not needed; nothing was changed", e.target, schema)
	case errors.Is(err, pgx.ErrNoRows):
		return &partialCopyError{target: e.target}
	default:
		return fmt.Errorf("store: PostgreSQL at %s: look for store data: %w", e.target, err)
	}
}

// partialCopyError is a database holding store data without the schema
// marker that store copy writes last.
type partialCopyError struct{ target string }

func (e *partialCopyError) Error() string {
	return fmt.Sprintf("store: %s holds a partial copy of a store (its completion marker is missing: a copy was interrupted or failed): drop and recreate the database (dropdb NAME; createdb NAME), then copy again; nothing was changed", e.target)
}

// bucketSequences lists every bucket of the database with its sequence.
func (e *pgEngine) bucketSequences(ctx context.Context) (map[string]uint64, error) {
	rows, err := e.pool.Query(ctx, `SELECT name, seq FROM kv_buckets`)
	if err != nil {
		return nil, fmt.Errorf("store: PostgreSQL at %s: list the buckets: %w", e.target, err)
	}
	seqs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (struct {
		name string
		seq  int64
	}, error) {
		var r struct {
			name string
			seq  int64
		}
		err := row.Scan(&r.name, &r.seq)
		return r, err
	})
	if err != nil {
		return nil, fmt.Errorf("store: PostgreSQL at %s: list the buckets: %w", e.target, err)
	}
	out := make(map[string]uint64, len(seqs))
	for _, r := range seqs {
		out[r.name] = uint64(r.seq)
	}
	return out, nil
}

// dropCopyMarker removes the completion marker of a copy that failed its
// verification, so that it reads as the partial copy it is.
func (e *pgEngine) dropCopyMarker(ctx context.Context) error {
	_, err := e.pool.Exec(ctx, `DELETE FROM kv WHERE bucket = $1 AND k = $2`, pgBucketPath("", bucketMeta), keySchema)
	return err
}
