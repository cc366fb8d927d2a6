package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
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
//	devices        (device_id) -> device, analysis_state, spool_ledger
//	device_reports (device_id, gen_rank, seq_rank) -> received_ns, writer, n
//
// The devices bucket holds two kinds of keys, so it has two tables: a
// device's record (its id: no zero byte) and its report index (its id, a
// zero byte, the spool generation and the seq). The engine routes each key
// to its table (pgTable.owns) and walks the bucket by merging the tables'
// pages in key order. bbolt keeps both in one bucket so that a device's
// index sits on its record's page; on PostgreSQL each is a row of its own.
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
	// owns tells whether a key is this table's, for a bucket kept in
	// several tables; nil: every key of the bucket.
	owns func(k []byte) bool
	// records: the table holds the bucket's keys without a zero byte, and
	// only those (forEachRecord walks it alone).
	records bool
	key     []pgColumn
	val     []pgColumn
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

// pgTables are the buckets kept in tables of their own, by path: each
// bucket's tables (one, or several that own keys of different shapes).
var pgTables = map[string][]*pgTable{}

func init() {
	for _, t := range []*pgTable{reportsTable(), fingerprintsTable(), clusterOfTable(), alertsByKeyTable(), alertEventsTable(),
		devicesTable(), deviceReportsTable(), clustersTable(), clusterLinksTable()} {
		t.build()
		pgTables[t.bucket] = append(pgTables[t.bucket], t)
	}
}

// pgTableFor is the table of ts that holds key k, or nil.
func pgTableFor(ts []*pgTable, k []byte) *pgTable {
	for _, t := range ts {
		if t.owns == nil || t.owns(k) {
			return t
		}
	}
	return nil
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
	for _, op := range []string{"", ">=", ">", "<", "<="} {
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
		vals, err := splitReportKey(k)
		switch {
		case err == nil:
			return vals, over, false, nil
		case seek:
			return nil, false, true, nil
		default:
			return nil, false, false, t.keyError(k, err.Error())
		}
	}
	t.joinKey = joinReportKey
	return t
}

// splitReportKey is a 16-byte reports key's columns: receive time, writer
// number, count.
func splitReportKey(k []byte) ([]any, error) {
	if len(k) != 16 {
		return nil, fmt.Errorf("a report key is 16 bytes, not %d", len(k))
	}
	ns, ok := i63(k[:8])
	if !ok {
		return nil, errors.New("receive time past 2262")
	}
	word := binary.BigEndian.Uint64(k[8:])
	return []any{ns, int64(word >> reportWordCountBits), int64(word & (1<<reportWordCountBits - 1))}, nil
}

func joinReportKey(cols []any) []byte {
	word := uint64(*cols[1].(*int64))<<reportWordCountBits | uint64(*cols[2].(*int64))
	return binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(make([]byte, 0, 16), uint64(*cols[0].(*int64))), word)
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

// devices: a device's record, the device's own protobuf bytes, its
// analysis state and its spool ledger, each a column (the record's parts,
// joinDeviceRecord). A device id holds no zero byte; a key with one is the
// report index's (device_reports).
func devicesTable() *pgTable {
	t := &pgTable{bucket: pgBucketPath("", bucketDevices), name: "devices", records: true,
		owns: func(k []byte) bool { return bytes.IndexByte(k, 0) < 0 },
		key:  []pgColumn{{"device_id", pgBytes}},
		val:  []pgColumn{{"device", pgBytes}, {"analysis_state", pgBytes}, {"spool_ledger", pgBytes}}}
	t.splitKey = func(k []byte, seek bool) ([]any, bool, bool, error) {
		return []any{bytes.Clone(k)}, false, false, nil
	}
	t.joinKey = func(cols []any) []byte { return *cols[0].(*[]byte) }
	t.splitVal = func(v []byte) ([]any, error) {
		rec, err := splitDeviceRecord(v)
		if err != nil {
			return nil, fmt.Errorf("store: bucket %s: %w", t.bucket, err)
		}
		// Only what joinDeviceRecord writes is kept in columns, so that a
		// record reads back byte for byte; the store writes no other.
		if !bytes.Equal(joinDeviceRecord(rec), v) {
			return nil, fmt.Errorf("store: bucket %s: a device record with parts beyond its device, analysis state and spool ledger", t.bucket)
		}
		// An absent part is NULL: a nil slice is sent as one.
		return []any{bytes.Clone(rec.device), nilIfEmpty(rec.state), nilIfEmpty(rec.spools)}, nil
	}
	t.joinVal = func(cols []any) []byte {
		return joinDeviceRecord(deviceRecord{device: *cols[0].(*[]byte), state: *cols[1].(*[]byte), spools: *cols[2].(*[]byte)})
	}
	return t
}

func nilIfEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return bytes.Clone(b)
}

// device_reports: the report index, a device's id, a zero byte, its spool
// generation and the report's seq (ReportIndexKey) -> the report's key in
// reports (receive time and report word). The key stores the generation
// and seq complemented, so that a device's newest reports come first; the
// columns keep that order as ranks a primary key can sort ascending (a
// primary key cannot be declared DESC on PostgreSQL):
//
//	gen_rank = 4294967295 - generation
//	seq_rank = 9223372036854775807 - seq (wrapping: seqs from 2^63 rank below 0)
func deviceReportsTable() *pgTable {
	t := &pgTable{bucket: pgBucketPath("", bucketDevices), name: "device_reports",
		owns: func(k []byte) bool { return bytes.IndexByte(k, 0) >= 0 },
		key:  []pgColumn{{"device_id", pgBytes}, {"gen_rank", pgInt}, {"seq_rank", pgInt}},
		val:  []pgColumn{{"received_ns", pgInt}, {"writer", pgInt}, {"n", pgInt}}}
	t.splitKey = func(k []byte, seek bool) ([]any, bool, bool, error) {
		i := bytes.IndexByte(k, 0)
		if i < 0 {
			if !seek {
				return nil, false, false, t.keyError(k, "want device id, 0, generation, seq")
			}
			// Every index key of device k sorts after k itself.
			return []any{bytes.Clone(k), int64(0), int64(math.MinInt64)}, false, false, nil
		}
		rest, over := k[i+1:], false
		if seek {
			rest, over = padKey(rest, 12)
		} else if len(rest) != 12 {
			return nil, false, false, t.keyError(k, "want device id, 0, 4-byte generation, 8-byte seq")
		}
		gen := int64(binary.BigEndian.Uint32(rest))
		seq := int64(binary.BigEndian.Uint64(rest[4:]) ^ 1<<63) // unsigned order as signed
		return []any{bytes.Clone(k[:i]), gen, seq}, over, false, nil
	}
	t.joinKey = func(cols []any) []byte {
		dev := *cols[0].(*[]byte)
		k := append(append(make([]byte, 0, len(dev)+13), dev...), 0)
		k = binary.BigEndian.AppendUint32(k, uint32(*cols[1].(*int64)))
		return binary.BigEndian.AppendUint64(k, uint64(*cols[2].(*int64))^1<<63)
	}
	t.splitVal = func(v []byte) ([]any, error) {
		vals, err := splitReportKey(v)
		if err != nil {
			return nil, fmt.Errorf("store: a value of bucket %s (%s): %w", t.bucket, t.name, err)
		}
		return vals, nil
	}
	t.joinVal = joinReportKey
	return t
}

// clusters: a cluster's record (members, place, verdict, revision). A
// cluster id holds no zero byte; a key with one is a link's
// (cluster_links).
func clustersTable() *pgTable {
	t := &pgTable{bucket: pgBucketPath("", BucketClusters), name: "clusters", records: true,
		owns: func(k []byte) bool { return bytes.IndexByte(k, 0) < 0 },
		key:  []pgColumn{{"cluster_id", pgBytes}}, val: []pgColumn{{"record", pgBytes}}}
	t.splitKey = func(k []byte, seek bool) ([]any, bool, bool, error) {
		return []any{bytes.Clone(k)}, false, false, nil
	}
	t.joinKey = func(cols []any) []byte { return *cols[0].(*[]byte) }
	return t
}

// cluster_links: a cluster's links, a row per fingerprint and device
// (ClusterLinkKey) -> when the device was linked (unix ns) and whether the
// fingerprint is strong (1) or a public IP (0).
func clusterLinksTable() *pgTable {
	t := &pgTable{bucket: pgBucketPath("", BucketClusters), name: "cluster_links",
		owns: func(k []byte) bool { return bytes.IndexByte(k, 0) >= 0 },
		key:  []pgColumn{{"cluster_id", pgBytes}, {"kind", pgBytes}, {"value", pgBytes}, {"device_id", pgBytes}},
		val:  []pgColumn{{"linked_ns", pgInt}, {"strong", pgInt}}}
	t.splitKey = func(k []byte, seek bool) ([]any, bool, bool, error) {
		if cluster, kind, value, device, ok := ParseClusterLinkKey(k); ok {
			return []any{[]byte(cluster), []byte(kind), []byte(value), []byte(device)}, false, false, nil
		}
		if !seek {
			return nil, false, false, t.keyError(k, "want cluster id, 0, kind, 0, value, 0, device id")
		}
		// A bound cut short: the parts it has, then the smallest of the
		// rest. Every link of cluster k sorts after k itself.
		parts := bytes.SplitN(k, []byte{0}, 3)
		out := []any{[]byte{}, []byte{}, []byte{}, []byte{}}
		for i, p := range parts {
			out[i] = bytes.Clone(p)
		}
		return out, false, false, nil
	}
	t.joinKey = func(cols []any) []byte {
		return ClusterLinkKey(string(*cols[0].(*[]byte)), string(*cols[1].(*[]byte)), string(*cols[2].(*[]byte)), string(*cols[3].(*[]byte)))
	}
	t.splitVal = func(v []byte) ([]any, error) {
		if len(v) != 9 || v[8] > 1 {
			return nil, fmt.Errorf("store: a value of bucket %s (%s) is 9 bytes (linked at, strong), not %x", t.bucket, t.name, v)
		}
		return []any{int64(binary.BigEndian.Uint64(v)), int64(v[8])}, nil
	}
	t.joinVal = func(cols []any) []byte {
		return append(binary.BigEndian.AppendUint64(make([]byte, 0, 9), uint64(*cols[0].(*int64))), byte(*cols[1].(*int64)))
	}
	return t
}

// fetchTables is pgCursor.fetch on a bucket kept in tables of its own:
// each table's page, merged in key order when there are several.
func (c *pgCursor) fetchTables(op string, bound []byte, desc bool) {
	ts := c.b.ts
	if len(ts) == 1 {
		page, full, err := c.tablePage(ts[0], op, bound, desc)
		c.setPage(page, err, bound == nil, desc, full)
		return
	}
	var merged []pgKV
	var cut []byte // the nearest of the full pages' last keys
	full := false
	for _, t := range ts {
		page, f, err := c.tablePage(t, op, bound, desc)
		if err != nil {
			c.setPage(nil, err, bound == nil, desc, false)
			return
		}
		merged = append(merged, page...)
		if f {
			last := page[len(page)-1].k
			if !full || (bytes.Compare(last, cut) < 0) != desc {
				cut = last
			}
			full = true
		}
	}
	// Past the cut a full page's table may hold keys not read yet: the
	// page ends there, and the next one starts after it.
	sort.Slice(merged, func(i, j int) bool { return (bytes.Compare(merged[i].k, merged[j].k) < 0) != desc })
	if full {
		n := sort.Search(len(merged), func(i int) bool { return (bytes.Compare(merged[i].k, cut) > 0) != desc })
		merged = merged[:n]
	}
	c.setPage(merged, nil, bound == nil, desc, full)
}

// tablePage reads up to a page of t's rows (in descending key order when
// desc); full says the page may not have reached the table's end.
func (c *pgCursor) tablePage(t *pgTable, op string, bound []byte, desc bool) ([]pgKV, bool, error) {
	var args []any
	if bound != nil {
		if vals, _, _, err := t.splitKey(bound, false); err == nil {
			args = vals // a key of the table's shape: the bound as it is
		} else {
			// A Seek bound, or a key of another table of the bucket: the
			// smallest row at (strict: after) it stands in for it.
			vals, strict, beyond, err := t.splitKey(bound, true)
			switch {
			case err != nil:
				return nil, false, err
			case beyond && op == "<":
				op, vals = "", nil // every row sorts before it
			case beyond:
				return nil, false, nil // no row sorts after it
			case op == "<" && strict:
				op = "<="
			case op != "<" && strict:
				op = ">"
			case op != "<":
				op = ">="
			}
			args = vals
		}
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
	return page, len(page) == c.limit, err
}

// pgDataMoves are the steps of a schema file that move data, by the file's
// version; each runs in the schema change's transaction, after its SQL.
var pgDataMoves = map[int]func(context.Context, pgx.Tx) error{
	2: pgMoveToTables(bucketReports, BucketFingerprints, BucketClusterOf, bucketAlertIndex, bucketAlertEvents),
	4: pgMoveToTables(bucketDevices),
	6: pgMoveToTables(BucketClusters),
}

// pgMoveToTables moves the keys of buckets that now have tables of their
// own out of kv. Each bucket is read once through a cursor, in no
// particular order (a page query per step would depend on the planner:
// without statistics on a freshly loaded kv it sorts the bucket for every
// page), and its rows are written with COPY, the bulk load that
// PostgreSQL, CockroachDB and YugabyteDB all speak. A key that does not
// fit its table stops the change, which rolls back whole: the database is
// left at the schema it had.
func pgMoveToTables(buckets ...[]byte) func(context.Context, pgx.Tx) error {
	return func(ctx context.Context, tx pgx.Tx) error {
		const page = 5000
		for _, b := range buckets {
			p := pgBucketPath("", b)
			if err := moveFromKV(ctx, tx, p, pgTables[p], page); err != nil {
				return fmt.Errorf("move bucket %s to its tables: %w", p, err)
			}
		}
		return nil
	}
}

func moveFromKV(ctx context.Context, tx pgx.Tx, bucket string, ts []*pgTable, page int) error {
	if _, err := tx.Exec(ctx, `DECLARE farmwatch_move CURSOR FOR SELECT k, v FROM kv WHERE bucket = $1`, bucket); err != nil {
		return err
	}
	fetch := `FETCH ` + strconv.Itoa(page) + ` FROM farmwatch_move`
	for {
		rows, err := tx.Query(ctx, fetch)
		if err != nil {
			return err
		}
		out := map[*pgTable][][]any{}
		read := 0
		for rows.Next() {
			read++
			var k, v []byte
			if err := rows.Scan(&k, &v); err != nil {
				rows.Close()
				return err
			}
			t := pgTableFor(ts, k)
			if t == nil {
				rows.Close()
				return fmt.Errorf("key %x fits none of the bucket's tables", k)
			}
			row, err := t.row(k, v)
			if err != nil {
				rows.Close()
				return err
			}
			out[t] = append(out[t], row)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if read == 0 {
			break
		}
		for _, t := range ts {
			if len(out[t]) == 0 {
				continue
			}
			if _, err := tx.CopyFrom(ctx, pgx.Identifier{t.name}, names(t.columns()), pgx.CopyFromRows(out[t])); err != nil {
				return fmt.Errorf("table %s: %w", t.name, err)
			}
		}
	}
	if _, err := tx.Exec(ctx, `CLOSE farmwatch_move`); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `DELETE FROM kv WHERE bucket = $1`, bucket)
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

// pgTablesInOrder lists the tables by bucket and name, so that a schema change or
// a copy does the same steps each time.
func pgTablesInOrder() []*pgTable {
	var out []*pgTable
	for _, ts := range pgTables {
		out = append(out, ts...)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].bucket != out[j].bucket {
			return out[i].bucket < out[j].bucket
		}
		return out[i].name < out[j].name
	})
	return out
}

// Prefetch reads the keys of bucket not yet in the transaction's cache, a
// thousand a query, and caches what it finds and what it does not: the
// Gets that follow answer from the cache. Keys of a table whose key has
// several columns are left to their Gets.
func (tx *pgTx) Prefetch(bucket []byte, keys [][]byte) {
	const chunk = 1000
	path := pgBucketPath("", bucket)
	b := tx.handle(path)
	cached := b.cached()
	groups := map[*pgTable][][]byte{} // nil: kv
	asked := map[string]bool{}
	for _, k := range keys {
		if _, ok := cached[string(k)]; ok || len(k) == 0 || asked[string(k)] {
			continue
		}
		asked[string(k)] = true
		t, err := b.table(k)
		if err != nil || (t != nil && len(t.key) != 1) {
			continue
		}
		if t != nil {
			if _, _, _, err := t.splitKey(k, false); err != nil {
				continue
			}
		}
		groups[t] = append(groups[t], k)
	}
	for t, ks := range groups {
		for len(ks) > 0 {
			n := min(chunk, len(ks))
			part := ks[:n]
			ks = ks[n:]
			found := map[string][]byte{}
			var err error
			if t == nil {
				err = tx.roundTrip(&pgOp{sql: `SELECT k, v FROM kv WHERE bucket = $1 AND k = ANY($2)`, args: []any{path, part}},
					func(rows pgx.Rows) error {
						for rows.Next() {
							var k, v []byte
							if err := rows.Scan(&k, &v); err != nil {
								return err
							}
							if v == nil {
								v = []byte{}
							}
							found[string(k)] = v
						}
						return nil
					})
			} else {
				sql := "SELECT " + strings.Join(names(t.columns()), ", ") + " FROM " + t.name + " WHERE " + t.key[0].name + " = ANY($1)"
				// The key's column values, as an array of the column's type.
				var arg any
				if t.key[0].typ == pgInt {
					ints := make([]int64, len(part))
					for i, k := range part {
						vals, _, _, _ := t.splitKey(k, false)
						ints[i] = vals[0].(int64)
					}
					arg = ints
				} else {
					bs := make([][]byte, len(part))
					for i, k := range part {
						vals, _, _, _ := t.splitKey(k, false)
						bs[i] = vals[0].([]byte)
					}
					arg = bs
				}
				err = tx.roundTrip(&pgOp{sql: sql, args: []any{arg}}, func(rows pgx.Rows) error {
					for rows.Next() {
						keys, vals := dest(t.key), dest(t.val)
						if err := rows.Scan(append(keys, vals...)...); err != nil {
							return err
						}
						found[string(t.joinKey(keys))] = t.decodeVal(vals)
					}
					return nil
				})
			}
			if err != nil {
				return // the transaction has failed: its Gets find nothing and its commit fails
			}
			for _, k := range part {
				v, ok := found[string(k)]
				cached[string(k)] = pgCached{v: v, ok: ok}
			}
		}
	}
}

// ForEachRecord walks the table that holds the bucket's records alone,
// when the bucket has one: listing 100,000 devices then reads pages of
// devices, not a seek per device past its report index.
func (b *pgBucket) ForEachRecord(fn func(k, v []byte) error) (bool, error) {
	for _, t := range b.ts {
		if !t.records {
			continue
		}
		only := &pgBucket{tx: b.tx, path: b.path, ts: []*pgTable{t}}
		return true, only.ForEach(fn)
	}
	return false, nil
}

// PrefixCursor is a cursor for the keys that start with prefix, about rows
// of them: its first page reads them all (up to pageMax), and a prefix
// holding a zero byte reads only the tables that keep such keys, not the
// records' table, which holds none (a cluster's links: one query, not two
// tables' pages doubling from pageMin).
func (b *pgBucket) PrefixCursor(prefix []byte, rows int) kvCursor {
	nb := b
	if len(b.ts) > 1 && bytes.IndexByte(prefix, 0) >= 0 {
		var ts []*pgTable
		for _, t := range b.ts {
			if !t.records {
				ts = append(ts, t)
			}
		}
		nb = &pgBucket{tx: b.tx, path: b.path, ts: ts}
	}
	return &pgCursor{b: nb, limit: min(max(rows, b.tx.e.pageMin), b.tx.e.pageMax)}
}
