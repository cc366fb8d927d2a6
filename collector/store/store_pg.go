package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// IsPostgresURL tells whether a --store value names a PostgreSQL-protocol
// database (PostgreSQL, CockroachDB, YugabyteDB) rather than a data dir.
func IsPostgresURL(s string) bool {
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://")
}

// OpenPostgres opens the store in a PostgreSQL-protocol database shared by
// any number of collectors: it applies the schema files the binary carries
// (refusing a database of a newer schema, unaltered), creates the store's
// buckets where missing and starts the ingest writer. Every transaction is
// serializable; the ingest writer's batches are retried whole on a conflict
// with another collector.
func OpenPostgres(ctx context.Context, url string, opts Options) (*Store, error) {
	e, err := openPGEngine(ctx, url)
	if err != nil {
		return nil, err
	}
	// A database holding store data without its schema marker is a copy
	// that did not finish (store copy writes the marker last): opening it
	// would stamp it as a new store and hide what is missing.
	var partial *partialCopyError
	if err := e.checkCopyTarget(ctx); errors.As(err, &partial) {
		e.Close()
		return nil, err
	}
	s, err := newStore(e, nil, opts)
	if err != nil {
		e.Close()
		return nil, fmt.Errorf("initialise store at PostgreSQL %s: %w", e.target, err)
	}
	return s, nil
}

// Retries counts the transactions run again since the store was opened
// because they conflicted with another one (a serialization failure or a
// deadlock, most often with another collector's): always 0 on bbolt, whose
// writers never conflict. A rate of them that grows with the collectors is
// contention on shared keys.
func (s *Store) Retries() int64 {
	if e, ok := s.kv.(*pgEngine); ok {
		return e.Retries()
	}
	return 0
}
