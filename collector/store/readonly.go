package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

// ErrNotStore is wrapped by OpenReadOnly's error for a file that is not a
// farmwatch store.
var ErrNotStore = errors.New("not a farmwatch store")

// SchemaError is OpenReadOnly's error for a farmwatch store of another
// schema version than this farmwatch reads.
type SchemaError struct {
	Path       string
	Have, Want uint64
}

func (e *SchemaError) Error() string {
	if e.Have < e.Want {
		return fmt.Sprintf("%s is a farmwatch store of schema %d, older than this farmwatch reads (%d): upgrade a copy of it by starting `farmwatch serve --data DIR` with the copy as DIR/farmwatch.db, stop that collector, and give DIR/farmwatch.db",
			e.Path, e.Have, e.Want)
	}
	return fmt.Sprintf("%s is a farmwatch store of schema %d, newer than this farmwatch reads (%d): use the farmwatch that wrote it, or upgrade this one",
		e.Path, e.Have, e.Want)
}

// OpenReadOnly opens a store without changing a byte of it: a backup made
// by `farmwatch backup`, or the data dir (or its farmwatch.db) of a stopped
// collector. Unlike Open it creates nothing and migrates nothing, so it
// refuses, saying what to do, a file that is not a farmwatch store and a
// store of an older or a newer schema. Its Ingest fails; its Close closes
// the file.
func OpenReadOnly(path string) (*Store, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	if st.IsDir() {
		dir := path
		path = filepath.Join(dir, "farmwatch.db")
		if st, err = os.Stat(path); err != nil {
			return nil, fmt.Errorf("%s holds no farmwatch.db: give a collector's data dir or a file made by `farmwatch backup`: %w", dir, err)
		}
	}
	if st.Size() == 0 {
		// bbolt would try to initialise an empty file, even read-only.
		return nil, fmt.Errorf("%s is %w: the file is empty", path, ErrNotStore)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	switch {
	case errors.Is(err, bolt.ErrTimeout):
		return nil, fmt.Errorf("%s is locked by a running collector: take a copy with `farmwatch backup FILE` and give that, or ask the collector itself", path)
	case errors.Is(err, bolt.ErrInvalid), errors.Is(err, bolt.ErrVersionMismatch), errors.Is(err, bolt.ErrChecksum):
		return nil, fmt.Errorf("%s is %w: not a bbolt database (%v)", path, ErrNotStore, err)
	case err != nil:
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	if err := db.View(func(tx *bolt.Tx) error { return checkSchema(tx, path) }); err != nil {
		db.Close()
		return nil, err
	}
	s := &Store{
		kv:       boltEngine{db},
		bolt:     db,
		ingest:   make(chan *ingestJob),
		stopped:  make(chan struct{}),
		codec:    newCodec(),
		maxBatch: 1,
		hires:    newHireCache(),
		alerts:   newAlertCache(),
	}
	// The writer fails every ingest job on the read-only file with bbolt's
	// own error rather than leave a caller waiting.
	go s.writer()
	return s, nil
}

// checkSchema tells whether a bbolt file is a farmwatch store this version
// reads as it is.
func checkSchema(tx *bolt.Tx, path string) error {
	meta := tx.Bucket(bucketMeta)
	if meta == nil {
		return fmt.Errorf("%s is %w: a bbolt database without farmwatch's meta bucket", path, ErrNotStore)
	}
	v := meta.Get(keySchema)
	var cur uint64
	switch {
	case v == nil && tx.Bucket(bucketDevices) != nil && tx.Bucket(bucketHires) != nil:
		cur = 1 // written before the schema key existed
	case len(v) != 8:
		return fmt.Errorf("%s is %w: its meta bucket holds no schema version", path, ErrNotStore)
	default:
		cur = binary.BigEndian.Uint64(v)
	}
	if cur != SchemaVersion {
		return &SchemaError{Path: path, Have: cur, Want: SchemaVersion}
	}
	for _, b := range [][]byte{bucketHires, bucketDevices, bucketReports, bucketAlerts} {
		if tx.Bucket(b) == nil {
			return fmt.Errorf("%s is %w: schema %d but no %s bucket", path, ErrNotStore, cur, b)
		}
	}
	return nil
}
