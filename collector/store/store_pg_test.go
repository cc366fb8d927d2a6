package store

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/farmwatch/farmwatch/internal/pgtest"
)

// A database with store data but no schema marker is a copy that did not
// finish: a collector refuses it rather than stamp it as a new store.
func TestOpenPostgresRefusesAPartialCopy(t *testing.T) {
	c := pgtest.Shared(t)
	url := c.NewDatabase(t)
	e, err := openPGEngine(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Update(func(tx kvTx) error {
		b, err := tx.CreateBucketIfNotExists(bucketHires)
		if err != nil {
			return err
		}
		return b.Put([]byte("h-1"), []byte("x"))
	}); err != nil {
		t.Fatal(err)
	}
	e.Close()
	s, err := OpenPostgres(context.Background(), url, Options{})
	var partial *partialCopyError
	if !errors.As(err, &partial) || !strings.Contains(err.Error(), "drop and recreate") {
		if s != nil {
			s.Close()
		}
		t.Fatalf("open of a partial copy: %v, want a refusal naming the partial copy", err)
	}
	// Nothing was stamped: the marker is still missing.
	e, err = openPGEngine(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if err := e.View(func(tx kvTx) error {
		if m := tx.Bucket(bucketMeta); m != nil && m.Get(keySchema) != nil {
			t.Error("the refused open wrote the schema marker")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}
