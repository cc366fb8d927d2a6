package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Tables of their own (schema file 0002). The buckets the ingest path
// writes most, and those whose keys are records rather than opaque bytes,
// are kept on PostgreSQL in tables whose columns are the parts of the key
// and value, not in the shared kv table:
//
//	reports        (received_ns, writer, n) -> report
//	fingerprints   (kind, value, device_id) -> last_seen_unix, reports
//	cluster_of     (device_id) -> cluster_id, indexed by cluster_id
//	alerts_by_key  (subject, kind) -> alert_id
//	alert_events   (id) -> event
//
// The engine still answers the key-value contract for them: a key is split
// into its columns on the way in and joined again on the way out, and the
// table's primary key orders rows as bbolt orders the keys (byte strings
// compare as BYTEA does, numbers that were big-endian bytes compare as
// integers). So the store's code is the same on both backends, and a
// reader with SQL (a report, an audit, the next schema) finds typed rows.
// Each table has a primary key of its own rather than a shared
// (bucket, k) index: the serializable isolation's read locks on index pages
// then cover one kind of row, and a farm's fingerprints do not sit on the
// pages of the next bucket's keys.
//
// A key that does not have its bucket's shape is refused by Put with an
// error naming the bucket: the store writes none, so one would be a bug,
// and it fails its transaction rather than being stored where a walk would
// not find it.
//
// A database of the first schema keeps these buckets in kv: the schema
// change moves their rows (pgMoveToTables), and a check on kv refuses them
// from then on, so that a collector of the first schema still running
// cannot write where no upgraded collector reads (pgschema/0002, 0003).

// pgColType is a column's SQL type.
type pgColType int

const (
	pgBytes pgColType = iota // BYTEA: compares as unsigned bytes, like bbolt keys
	pgInt                    // INT8
)

type pgColumn struct {
	name string
	typ  pgColType
}

// pgTable maps one top-level bucket onto a table.
type pgTable struct {
	bucket string // the bucket's path
	name   string // the table
	key    []pgColumn
	val    []pgColumn
	// splitKey turns a key into its column values. With seek set, k is a
	// Seek bound, any byte string: the values returned are the smallest row
	// at or after it (strict: after it), or beyond says that no key the
	// table can hold sorts at or after it.
	splitKey func(k []byte, seek bool) (vals []any, strict, beyond bool, err error)
	// joinKey builds the key from scanned key columns (pointers, as keyDest
	// made them).
	joinKey func(cols []any) []byte
	// splitVal and joinVal do the same for the value; nil: one BYTEA
	// column that is the value.
	splitVal func(v []byte) ([]any, error)
	joinVal  func(cols []any) []byte

	// Statements, built once.
	getSQL, putSQL, delSQL, countSQL, clearSQL string
	pages                                      map[pgPageKind]string
}

// pgPageKind names a cursor page query: its bound's operator ("" for none)
// and direction.
type pgPageKind struct {
	op   string
	desc bool
}

// pgTables are the buckets kept in tables of their own, by path.
var pgTables = map[string]*pgTable{}

func init() {
	for _, t := range []*pgTable{reportsTable(), fingerprintsTable(), clusterOfTable(), alertsByKeyTable(), alertEventsTable()} {
		t.build()
		pgTables[t.bucket] = t
	}
}

func (t *pgTable) columns() []pgColumn { return append(append([]pgColumn{}, t.key...), t.val...) }

func names(cols []pgColumn) []string {
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = c.name
	}
	return out
}

// params is "$from, $from+1, ..." for n parameters.
func params(from, n int) string {
	ps := make([]string, n)
	for i := range ps {
		ps[i] = "$" + strconv.Itoa(from+i)
	}
	return strings.Join(ps, ", ")
}

// keyMatch is "k1 = $1 AND k2 = $2 ...".
func (t *pgTable) keyMatch() string {
	conds := make([]string, len(t.key))
	for i, c := range t.key {
		conds[i] = c.name + " = $" + strconv.Itoa(i+1)
	}
	return strings.Join(conds, " AND ")
}

func (t *pgTable) build() {
	all := t.columns()
	keys := strings.Join(names(t.key), ", ")
	t.getSQL = "SELECT " + strings.Join(names(t.val), ", ") + " FROM " + t.name + " WHERE " + t.keyMatch()
	sets := make([]string, len(t.val))
	for i, c := range t.val {
		sets[i] = c.name + " = excluded." + c.name
	}
	t.putSQL = "INSERT INTO " + t.name + " (" + strings.Join(names(all), ", ") + ") VALUES (" + params(1, len(all)) +
		") ON CONFLICT (" + keys + ") DO UPDATE SET " + strings.Join(sets, ", ")
	t.delSQL = "DELETE FROM " + t.name + " WHERE " + t.keyMatch()
	t.countSQL = "SELECT count(*) FROM " + t.name
	t.clearSQL = "DELETE FROM " + t.name
	t.pages = map[pgPageKind]string{}
	for _, op := range []string{"", ">=", ">", "<"} {
		for _, desc := range []bool{false, true} {
			t.pages[pgPageKind{op, desc}] = t.pageSQL(op, desc)
		}
	}
}

// pageSQL reads up to a page of rows in key order (desc: backwards), after
// (or from, or before) a bound when op is set.
func (t *pgTable) pageSQL(op string, desc bool) string {
	var sb strings.Builder
	sb.WriteString("SELECT " + strings.Join(names(t.columns()), ", ") + " FROM " + t.name)
	n := 1
	if op != "" {
		// A row comparison: the primary key's index serves it as a range.
		sb.WriteString(" WHERE (" + strings.Join(names(t.key), ", ") + ") " + op + " (" + params(1, len(t.key)) + ")")
		n += len(t.key)
	}
	order := make([]string, len(t.key))
	for i, c := range t.key {
		order[i] = c.name
		if desc {
			order[i] += " DESC"
		}
	}
	sb.WriteString(" ORDER BY " + strings.Join(order, ", ") + " LIMIT $" + strconv.Itoa(n))
	return sb.String()
}

// dest makes scan destinations for cols.
func dest(cols []pgColumn) []any {
	out := make([]any, len(cols))
	for i, c := range cols {
		if c.typ == pgInt {
			out[i] = new(int64)
		} else {
			out[i] = new([]byte)
		}
	}
	return out
}

func (t *pgTable) encodeVal(v []byte) ([]any, error) {
	if t.splitVal == nil {
		return []any{append([]byte{}, v...)}, nil // never nil: nil would be NULL
	}
	return t.splitVal(v)
}

func (t *pgTable) decodeVal(cols []any) []byte {
	if t.joinVal == nil {
		v := *cols[0].(*[]byte)
		if v == nil {
			v = []byte{}
		}
		return v
	}
	return t.joinVal(cols)
}

func (t *pgTable) keyError(k []byte, want string) error {
	return fmt.Errorf("store: key %x does not fit bucket %s (table %s: %s)", k, t.bucket, t.name, want)
}

// i63 reads 8 big-endian bytes as an INT8 column: values from 2^63 up do
// not fit one.
func i63(b []byte) (int64, bool) {
	u := binary.BigEndian.Uint64(b)
	return int64(u), u < 1<<63
}

// padKey is b cut or zero-filled to n bytes; over says b was longer.
func padKey(b []byte, n int) (out []byte, over bool) {
	if len(b) >= n {
		return b[:n], len(b) > n
	}
	return append(append(make([]byte, 0, n), b...), make([]byte, n-len(b))...), false
}

// reports: receive time (unix nanoseconds) and the report word (reportWords:
// the writer number in its high 24 bits, the writer's count in the low 40).
func reportsTable() *pgTable {
	t := &pgTable{bucket: pgBucketPath("", bucketReports), name: "reports",
		key: []pgColumn{{"received_ns", pgInt}, {"writer", pgInt}, {"n", pgInt}},
		val: []pgColumn{{"report", pgBytes}}}
	t.splitKey = func(k []byte, seek bool) ([]any, bool, bool, error) {
		over := false
		if seek {
			k, over = padKey(k, 16)
		} else if len(k) != 16 {
			return nil, false, false, t.keyError(k, "want 16 bytes: receive time and report word")
		}
		ns, ok := i63(k[:8])
		if !ok {
			if seek {
				return nil, false, true, nil
			}
			return nil, false, false, t.keyError(k, "receive time past 2262")
		}
		word := binary.BigEndian.Uint64(k[8:])
		return []any{ns, int64(word >> reportWordCountBits), int64(word & (1<<reportWordCountBits - 1))}, over, false, nil
	}
	t.joinKey = func(cols []any) []byte {
		word := uint64(*cols[1].(*int64))<<reportWordCountBits | uint64(*cols[2].(*int64))
		return binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(make([]byte, 0, 16), uint64(*cols[0].(*int64))), word)
	}
	return t
}

// alert_events: the event id, the bucket's sequence.
func alertEventsTable() *pgTable {
	t := &pgTable{bucket: pgBucketPath("", bucketAlertEvents), name: "alert_events",
		key: []pgColumn{{"id", pgInt}}, val: []pgColumn{{"event", pgBytes}}}
	t.splitKey = func(k []byte, seek bool) ([]any, bool, bool, error) {
		over := false
		if seek {
			k, over = padKey(k, 8)
		} else if len(k) != 8 {
			return nil, false, false, t.keyError(k, "want an 8-byte event id")
		}
		id, ok := i63(k)
		if !ok {
			if seek {
				return nil, false, true, nil
			}
			return nil, false, false, t.keyError(k, "event id from 2^63")
		}
		return []any{id}, over, false, nil
	}
	t.joinKey = func(cols []any) []byte { return binary.BigEndian.AppendUint64(nil, uint64(*cols[0].(*int64))) }
	return t
}

// fingerprints: kind, a zero byte, the value, a zero byte, the device id ->
// last seen (unix seconds, 8 bytes) and reports (4 bytes). The kind and the
// device id hold no zero byte; a value may (the agent reports it), so the
// value is everything between the first zero byte and the last.
func fingerprintsTable() *pgTable {
	t := &pgTable{bucket: pgBucketPath("", BucketFingerprints), name: "fingerprints",
		key: []pgColumn{{"kind", pgBytes}, {"value", pgBytes}, {"device_id", pgBytes}},
		val: []pgColumn{{"last_seen_unix", pgInt}, {"reports", pgInt}}}
	t.splitKey = func(k []byte, seek bool) ([]any, bool, bool, error) {
		first, last := bytes.IndexByte(k, 0), bytes.LastIndexByte(k, 0)
		switch {
		case first >= 0 && last > first:
			return []any{bytes.Clone(k[:first]), bytes.Clone(k[first+1 : last]), bytes.Clone(k[last+1:])}, false, false, nil
		case !seek:
			return nil, false, false, t.keyError(k, "want kind, 0, value, 0, device id")
		case first >= 0:
			return []any{bytes.Clone(k[:first]), bytes.Clone(k[first+1:]), []byte{}}, false, false, nil
		default:
			return []any{bytes.Clone(k), []byte{}, []byte{}}, false, false, nil
		}
	}
	t.joinKey = func(cols []any) []byte {
		kind, value, dev := *cols[0].(*[]byte), *cols[1].(*[]byte), *cols[2].(*[]byte)
		k := make([]byte, 0, len(kind)+len(value)+len(dev)+2)
		k = append(append(k, kind...), 0)
		k = append(append(k, value...), 0)
		return append(k, dev...)
	}
	t.splitVal = func(v []byte) ([]any, error) {
		if len(v) != 12 {
			return nil, fmt.Errorf("store: a value of bucket %s is 12 bytes (last seen, reports), not %d", t.bucket, len(v))
		}
		seen, ok := i63(v[:8])
		if !ok {
			return nil, fmt.Errorf("store: bucket %s: last seen %d does not fit", t.bucket, binary.BigEndian.Uint64(v[:8]))
		}
		return []any{seen, int64(binary.BigEndian.Uint32(v[8:]))}, nil
	}
	t.joinVal = func(cols []any) []byte {
		v := binary.BigEndian.AppendUint64(make([]byte, 0, 12), uint64(*cols[0].(*int64)))
		return binary.BigEndian.AppendUint32(v, uint32(*cols[1].(*int64)))
	}
	return t
}

// cluster_of: device id -> cluster id; a cluster's members are its rows.
func clusterOfTable() *pgTable {
	t := &pgTable{bucket: pgBucketPath("", BucketClusterOf), name: "cluster_of",
		key: []pgColumn{{"device_id", pgBytes}}, val: []pgColumn{{"cluster_id", pgBytes}}}
	t.splitKey = func(k []byte, seek bool) ([]any, bool, bool, error) {
		return []any{bytes.Clone(k)}, false, false, nil
	}
	t.joinKey = func(cols []any) []byte { return *cols[0].(*[]byte) }
	return t
}

// alerts_by_key: subject (device or cluster id), a zero byte, alert kind ->
// the open alert's id.
func alertsByKeyTable() *pgTable {
	t := &pgTable{bucket: pgBucketPath("", bucketAlertIndex), name: "alerts_by_key",
		key: []pgColumn{{"subject", pgBytes}, {"kind", pgBytes}}, val: []pgColumn{{"alert_id", pgBytes}}}
	t.splitKey = func(k []byte, seek bool) ([]any, bool, bool, error) {
		i := bytes.IndexByte(k, 0)
		switch {
		case i >= 0:
			return []any{bytes.Clone(k[:i]), bytes.Clone(k[i+1:])}, false, false, nil
		case !seek:
			return nil, false, false, t.keyError(k, "want subject, 0, kind")
		default:
			return []any{bytes.Clone(k), []byte{}}, false, false, nil
		}
	}
	t.joinKey = func(cols []any) []byte {
		subject, kind := *cols[0].(*[]byte), *cols[1].(*[]byte)
		return append(append(append(make([]byte, 0, len(subject)+1+len(kind)), subject...), 0), kind...)
	}
	return t
}

// fetchTable is pgCursor.fetch on a bucket kept in a table of its own.
func (c *pgCursor) fetchTable(op string, bound []byte, desc bool) {
	t := c.b.t
	var args []any
	if bound != nil {
		vals, strict, beyond, err := t.splitKey(bound, op == ">=")
		if err != nil || beyond {
			// Nothing sorts after a bound past every key the table can
			// hold; a key the table cannot hold was never on a page.
			c.setPage(nil, nil, false, desc)
			return
		}
		if strict {
			op = ">"
		}
		args = vals
	} else {
		op = ""
	}
	args = append(args, c.limit)
	var page []pgKV
	err := c.b.tx.roundTrip(&pgOp{sql: t.pages[pgPageKind{op, desc}], args: args}, func(rows pgx.Rows) error {
		for rows.Next() {
			keys, vals := dest(t.key), dest(t.val)
			if err := rows.Scan(append(keys, vals...)...); err != nil {
				return err
			}
			page = append(page, pgKV{k: t.joinKey(keys), v: t.decodeVal(vals)})
		}
		return nil
	})
	c.setPage(page, err, bound == nil, desc)
}

// pgDataMoves are the steps of a schema file that move data, by the file's
// version; each runs in the schema change's transaction, after its SQL.
var pgDataMoves = map[int]func(context.Context, pgx.Tx) error{
	2: pgMoveToTables,
}

// pgMoveToTables moves the keys of the buckets that have tables of their
// own (schema file 0002) out of kv. Each bucket is read once through a
// cursor, in no particular order (a page query per step would depend on
// the planner: without statistics on a freshly loaded kv it sorts the
// bucket for every page), and its rows are written with COPY, the bulk
// load that PostgreSQL, CockroachDB and YugabyteDB all speak. A key that
// does not fit its table stops the change, which rolls back whole: the
// database is left at the schema it had.
func pgMoveToTables(ctx context.Context, tx pgx.Tx) error {
	const page = 5000
	for _, t := range pgTablesInOrder() {
		if err := t.moveFromKV(ctx, tx, page); err != nil {
			return fmt.Errorf("move bucket %s to table %s: %w", t.bucket, t.name, err)
		}
	}
	return nil
}

func (t *pgTable) moveFromKV(ctx context.Context, tx pgx.Tx, page int) error {
	if _, err := tx.Exec(ctx, `DECLARE farmwatch_move CURSOR FOR SELECT k, v FROM kv WHERE bucket = $1`, t.bucket); err != nil {
		return err
	}
	fetch := `FETCH ` + strconv.Itoa(page) + ` FROM farmwatch_move`
	cols := names(t.columns())
	for {
		rows, err := tx.Query(ctx, fetch)
		if err != nil {
			return err
		}
		var out [][]any
		for rows.Next() {
			var k, v []byte
			if err := rows.Scan(&k, &v); err != nil {
				rows.Close()
				return err
			}
			row, err := t.row(k, v)
			if err != nil {
				rows.Close()
				return err
			}
			out = append(out, row)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if len(out) == 0 {
			break
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{t.name}, cols, pgx.CopyFromRows(out)); err != nil {
			return err
		}
	}
	if _, err := tx.Exec(ctx, `CLOSE farmwatch_move`); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `DELETE FROM kv WHERE bucket = $1`, t.bucket)
	return err
}

// row is the table row of key k and value v: the key's columns, then the
// value's.
func (t *pgTable) row(k, v []byte) ([]any, error) {
	kv, _, _, err := t.splitKey(k, false)
	if err != nil {
		return nil, err
	}
	vv, err := t.encodeVal(v)
	if err != nil {
		return nil, fmt.Errorf("%w (key %x)", err, k)
	}
	return append(kv, vv...), nil
}

// pgTablesInOrder lists the tables by bucket, so that a schema change or
// a copy does the same steps each time.
func pgTablesInOrder() []*pgTable {
	out := make([]*pgTable, 0, len(pgTables))
	for _, t := range pgTables {
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].bucket < out[j].bucket })
	return out
}
