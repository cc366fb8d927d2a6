package server_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/farmwatch/farmwatch/internal/testcollector"
)

// storeContent is every byte a collector's store holds: its bbolt file,
// freed pages included, or every value in every table of its PostgreSQL
// database (whose dead row versions are the database's to vacuum, not the
// collector's to scrub): the kv table's bucket names, keys and values, and
// the columns of the tables some buckets have of their own.
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
	eachStoreValue(t, c, func(v []byte) {
		b.Write(v)
		b.WriteByte(0)
	})
	return b.Bytes()
}

// storeBytes is the size of a collector's store: its bbolt file, or the
// bytes of every value in its PostgreSQL database's tables (8 for a
// number).
func storeBytes(t *testing.T, c *testcollector.Collector) int64 {
	t.Helper()
	if c.StoreURL() == "" {
		return fileSize(t, filepath.Join(c.Data, "farmwatch.db"))
	}
	var n int64
	eachStoreValue(t, c, func(v []byte) { n += int64(len(v)) })
	return n
}

// eachStoreValue calls fn with every value of every table in the
// collector's PostgreSQL database: byte strings and text as they are,
// numbers as 8 big-endian bytes.
func eachStoreValue(t *testing.T, c *testcollector.Collector, fn func([]byte)) {
	t.Helper()
	var tables []string
	queryStore(t, c, "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename", func(rows pgx.Rows) error {
		var name string
		tables = append(tables, name)
		return rows.Scan(&tables[len(tables)-1])
	})
	if len(tables) < 3 {
		t.Fatalf("store tables: %v", tables)
	}
	for _, table := range tables {
		queryStore(t, c, "SELECT * FROM "+pgx.Identifier{table}.Sanitize(), func(rows pgx.Rows) error {
			vals, err := rows.Values()
			if err != nil {
				return err
			}
			for _, v := range vals {
				switch v := v.(type) {
				case []byte:
					fn(v)
				case string:
					fn([]byte(v))
				case int64:
					fn(binary.BigEndian.AppendUint64(nil, uint64(v)))
				case int32:
					fn(binary.BigEndian.AppendUint32(nil, uint32(v)))
				case nil:
				default:
					return fmt.Errorf("table %s: a value of type %T", table, v)
				}
			}
			return nil
		})
	}
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
