package server_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/farmwatch/farmwatch/internal/testcollector"
)

// storeContent is every byte a collector's store holds: its bbolt file,
// freed pages included, or every bucket name, key and value of its
// PostgreSQL database (whose dead row versions are the database's to
// vacuum, not the collector's to scrub).
func storeContent(t *testing.T, c *testcollector.Collector) []byte {
	t.Helper()
	if c.StoreURL() == "" {
		raw, err := os.ReadFile(filepath.Join(c.Data, "farmwatch.db"))
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	var b bytes.Buffer
	queryStore(t, c, "SELECT bucket::bytea, k, v FROM kv", func(rows pgx.Rows) error {
		var bucket, k, v []byte
		if err := rows.Scan(&bucket, &k, &v); err != nil {
			return err
		}
		b.Write(bucket)
		b.WriteByte(0)
		b.Write(k)
		b.WriteByte(0)
		b.Write(v)
		b.WriteByte(0)
		return nil
	})
	return b.Bytes()
}

// storeBytes is the size of a collector's store: its bbolt file, or the
// bytes of every key and value of its PostgreSQL database.
func storeBytes(t *testing.T, c *testcollector.Collector) int64 {
	t.Helper()
	if c.StoreURL() == "" {
		return fileSize(t, filepath.Join(c.Data, "farmwatch.db"))
	}
	var n int64
	queryStore(t, c, "SELECT coalesce(sum(octet_length(k) + octet_length(v)), 0)::int8 FROM kv", func(rows pgx.Rows) error {
		return rows.Scan(&n)
	})
	return n
}

// queryStore runs a query on the collector's PostgreSQL database, on a
// connection of its own, and calls row for every row.
func queryStore(t *testing.T, c *testcollector.Collector, sql string, row func(pgx.Rows) error) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, c.StoreURL())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, sql)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := row(rows); err != nil {
			t.Fatal(err)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
}
