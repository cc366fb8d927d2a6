package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/farmwatch/farmwatch/internal/pgtest"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// The buckets kept in tables of their own answer the key-value contract as
// bbolt does: the differential script runs on them with keys of their
// shapes, and with Seek bounds of any shape (cut short, too long, past
// every key a table can hold), on both engines.

// kvShape makes keys and values of one bucket's layout.
type kvShape struct {
	key func(rng *rand.Rand) []byte           // a key the bucket holds
	val func(rng *rand.Rand, k []byte) []byte // a value for key k
}

func pick[T any](rng *rand.Rand, xs ...T) T { return xs[rng.IntN(len(xs))] }

func randBytes(rng *rand.Rand, n int, alphabet ...byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = pick(rng, alphabet...)
	}
	return b
}

// randReportKey is a reports key with receive times and report words at
// the edges of their columns: the largest INT8, the largest writer number
// (24 bits) and count (40 bits).
func randReportKey(rng *rand.Rand) []byte {
	ns := pick[uint64](rng, 0, 1<<62, 1<<63-1)
	word := pick[uint64](rng, 1, 1<<40-1) | pick[uint64](rng, 0, 1<<24-1)<<40
	return binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, ns), word)
}

var kvShapes = map[string]kvShape{
	"reports": {
		key: randReportKey,
		val: func(rng *rand.Rand, _ []byte) []byte { return randBytes(rng, rng.IntN(4), 'a', 'b', 0, 0xff) },
	},
	"alert_events": {
		key: func(rng *rand.Rand) []byte {
			return binary.BigEndian.AppendUint64(nil, pick[uint64](rng, 0, 1, 2, 255, 256, 1<<63-1))
		},
		val: func(rng *rand.Rand, _ []byte) []byte { return randBytes(rng, rng.IntN(3), 'x', 0) },
	},
	"fingerprints": {
		// Kinds and device ids hold no zero byte; values hold none either
		// (the analysis drops such a value).
		key: func(rng *rand.Rand) []byte {
			k := []byte(pick(rng, "b", "g", "gw"))
			k = append(append(k, 0), pick(rng, "", "a", "a\x01", "ab", "\xff")...)
			return append(append(k, 0), pick(rng, "", "d", "d1", "e")...)
		},
		val: func(rng *rand.Rand, _ []byte) []byte {
			v := binary.BigEndian.AppendUint64(nil, pick[uint64](rng, 0, 1_700_000_000, 1<<63-1))
			return binary.BigEndian.AppendUint32(v, pick[uint32](rng, 0, 1, 1<<32-1))
		},
	},
	"alerts_by_key": {
		// A subject holds no zero byte; the kind may.
		key: func(rng *rand.Rand) []byte {
			return append(append([]byte(pick(rng, "", "s", "s1", "t")), 0), pick(rng, "", "k", "k\x00x", "kz")...)
		},
		val: func(rng *rand.Rand, _ []byte) []byte { return randBytes(rng, 1+rng.IntN(3), '0', '9') },
	},
	"devices": {
		// Device records (an id: no zero byte) and the report index (an id,
		// 0, ^generation, ^seq), with generations and seqs at the edges of
		// their ranks: the index's keys of one device sort among the
		// records of the ids around it.
		key: func(rng *rand.Rand) []byte {
			id := []byte(pick(rng, "d", "d1", "dd", "e", "\xff"))
			if rng.IntN(2) == 0 {
				return id
			}
			return ReportIndexKey(string(id), pick[uint32](rng, 0, 1, 1<<32-1), pick[uint64](rng, 0, 1, 1<<63-1, 1<<63, 1<<64-1))
		},
		val: func(rng *rand.Rand, k []byte) []byte {
			if bytes.IndexByte(k, 0) >= 0 {
				return randReportKey(rng) // the report's key
			}
			rec := deviceRecord{device: randBytes(rng, rng.IntN(3), 'p', 0)}
			if rng.IntN(2) == 0 {
				rec.state = randBytes(rng, 1+rng.IntN(3), 's', 0)
			}
			if rng.IntN(2) == 0 {
				rec.spools = randBytes(rng, 1+rng.IntN(3), 'l', 0xff)
			}
			return joinDeviceRecord(rec)
		},
	},
	"clusters": {
		// Cluster records (an id: no zero byte) and their links (an id, 0,
		// kind, 0, value, 0, device id), with ids one of which is a prefix
		// of another, so that one cluster's links sort among the records
		// around it, and parts that are empty.
		key: func(rng *rand.Rand) []byte {
			id := pick(rng, "C", "C1", "CC", "D", "\xff")
			if rng.IntN(2) == 0 {
				return []byte(id)
			}
			return ClusterLinkKey(id, pick(rng, "bssid", "gw", ""), pick(rng, "", "a", "a\x01", "\xff"), pick(rng, "", "d", "d1", "e"))
		},
		val: func(rng *rand.Rand, k []byte) []byte {
			if bytes.IndexByte(k, 0) >= 0 {
				return ClusterLinkValue(time.Unix(0, pick[int64](rng, 0, -1, 1<<62, math.MaxInt64)), rng.IntN(2) == 0)
			}
			return randBytes(rng, rng.IntN(4), '{', '}', 0, 0xff)
		},
	},
	"cluster_of": {
		key: func(rng *rand.Rand) []byte { return randBytes(rng, 1+rng.IntN(3), 'a', 'b', 0, 0xff) },
		val: func(rng *rand.Rand, _ []byte) []byte { return randBytes(rng, rng.IntN(3), 'c', 0) },
	},
}

// kvTableScript is kvRandomScript on buckets of the given shapes (the
// nested bucket, 2, takes any key).
func kvTableScript(seed uint64, shapes [2]kvShape, txs, opsPerTx int) [][]kvOp {
	rng := rand.New(rand.NewPCG(seed, 2))
	anyKey := func() []byte { return randBytes(rng, 1+rng.IntN(3), 0, 'a', 0xff) }
	var script [][]kvOp
	for range txs {
		var tx []kvOp
		for range 1 + rng.IntN(opsPerTx) {
			op := kvOp{kind: rng.IntN(opPrune + 1), bucket: rng.IntN(3), n: rng.IntN(8)}
			if op.bucket == 2 {
				op.key, op.val = anyKey(), anyKey()
				tx = append(tx, op)
				continue
			}
			s := shapes[op.bucket]
			op.key = s.key(rng)
			switch {
			case op.kind == opPut:
				op.val = s.val(rng, op.key)
			case rng.IntN(3) == 0:
				// A key of another shape: cut short, made longer, or
				// any bytes (0xff... sorts past every report).
				switch rng.IntN(3) {
				case 0:
					op.key = op.key[:rng.IntN(len(op.key))]
				case 1:
					op.key = append(op.key, randBytes(rng, 1+rng.IntN(2), 0, 1, 0xff)...)
				default:
					op.key = anyKey()
				}
			}
			tx = append(tx, op)
		}
		script = append(script, tx)
	}
	return script
}

// kvDiff fails at the first step the two logs disagree on.
func kvDiff(t *testing.T, what string, want, got []string) {
	t.Helper()
	for i := range max(len(want), len(got)) {
		var w, g string
		if i < len(want) {
			w = want[i]
		}
		if i < len(got) {
			g = got[i]
		}
		if w != g {
			t.Fatalf("%s, step %d:\nbolt %s\n  pg %s", what, i, w, g)
		}
	}
	t.Logf("%s: %d steps agree", what, len(want))
}

func TestEngineDifferentialTables(t *testing.T) {
	makers := kvEngineMakers()
	for _, pair := range [][2]string{{"reports", "fingerprints"}, {"alert_events", "alerts_by_key"}, {"cluster_of", "fingerprints"},
		{"devices", "reports"}, {"clusters", "cluster_of"}} {
		if pgTables[pair[0]] == nil || pgTables[pair[1]] == nil {
			t.Fatalf("%v: not kept in tables of their own", pair)
		}
		for _, seed := range []uint64{1, 2} {
			t.Run(fmt.Sprintf("%s+%s/%d", pair[0], pair[1], seed), func(t *testing.T) {
				script := kvTableScript(seed, [2]kvShape{kvShapes[pair[0]], kvShapes[pair[1]]}, 60, 25)
				want := kvRunScriptOn(t, makers[0].open(t), pair, script)
				got := kvRunScriptOn(t, makers[1].open(t), pair, script)
				kvDiff(t, fmt.Sprintf("%v seed %d", pair, seed), want, got)
			})
		}
	}
}

// A key or value that does not fit its table fails the write, naming the
// bucket, and the transaction stores nothing.
func TestPGTableRefusesKeysOfAnotherShape(t *testing.T) {
	_, _, e := pgTestEngine(t)
	for _, c := range []struct {
		bucket   string
		key, val []byte
		want     string
	}{
		{"reports", []byte("short"), []byte("r"), "does not fit bucket reports"},
		{"reports", bytes.Repeat([]byte{0xff}, 16), []byte("r"), "receive time past 2262"},
		{"fingerprints", []byte("g\x00v"), make([]byte, 12), "want kind, 0, value, 0, device id"},
		{"fingerprints", []byte("g\x00v\x00d"), make([]byte, 8), "12 bytes"},
		{"alerts_by_key", []byte("subject"), []byte("1"), "want subject, 0, kind"},
		{"clusters", []byte("C\x00bssid\x00v"), ClusterLinkValue(time.Now(), true), "want cluster id, 0, kind, 0, value, 0, device id"},
		{"clusters", []byte("C\x00bssid\x00v\x00d"), []byte{0, 1}, "9 bytes (linked at, strong)"},
		{"alert_events", []byte{1}, []byte("e"), "8-byte event id"},
		{"devices", []byte("d\x00short"), make([]byte, 16), "want device id, 0, 4-byte generation, 8-byte seq"},
		{"devices", ReportIndexKey("d", 1, 1), []byte("short"), "a report key is 16 bytes"},
		{"devices", []byte("d"), []byte("not a record"), "device record"},
		{"devices", []byte("d"), append(joinDeviceRecord(deviceRecord{device: []byte("p")}), 0x22, 1, 'x'), "parts beyond"},
	} {
		err := e.Update(func(tx kvTx) error {
			b, err := tx.CreateBucketIfNotExists([]byte(c.bucket))
			if err != nil {
				return err
			}
			return b.Put(c.key, c.val)
		})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Put %x=%x in %s: %v, want an error containing %q", c.key, c.val, c.bucket, err, c.want)
		}
	}
	kvView(t, e, func(tx kvTx) error {
		for _, name := range []string{"reports", "fingerprints", "alerts_by_key", "alert_events", "devices"} {
			if b := tx.Bucket([]byte(name)); b != nil && b.KeyN() != 0 {
				t.Errorf("%s: %d keys after refused writes", name, b.KeyN())
			}
		}
		return nil
	})
}

// A database at schema 1 keeps every bucket in kv; opening it moves the
// keys of the buckets that have tables into them, in the schema change's
// transaction, and the store reads them as before.
func TestPGMigrationMovesKeysToTables(t *testing.T) {
	c, url := pgSchema1(t)
	db := pgDBName(url)
	ctx := context.Background()
	// Every bucket of the schema-1 store, with more keys than a move's page
	// in one of them, and a bucket that stays in kv.
	rng := rand.New(rand.NewPCG(7, 7))
	want := map[string]map[string]string{}
	names := []string{"reports", "fingerprints", "alerts_by_key", "alert_events", "cluster_of", "devices", "tokens"}
	for _, name := range names {
		want[name] = map[string]string{}
		if err := c.Exec(ctx, db, `INSERT INTO kv_buckets (name) VALUES ($1)`, name); err != nil {
			t.Fatal(err)
		}
	}
	var ks, vs [][]byte
	var bs []string
	add := func(bucket string, k, v []byte) {
		if _, dup := want[bucket][string(k)]; dup {
			return
		}
		want[bucket][string(k)] = string(v)
		bs, ks, vs = append(bs, bucket), append(ks, k), append(vs, v)
	}
	for i := range 12_000 {
		k := binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, uint64(1_700_000_000_000_000_000+i)), uint64(i%3)<<40|uint64(i))
		add("reports", k, []byte(fmt.Sprintf("report %d", i)))
	}
	for _, name := range names[1:] {
		s, ok := kvShapes[name]
		if !ok {
			s = kvShapes["cluster_of"]
		}
		for range 200 {
			k := s.key(rng)
			add(name, k, s.val(rng, k))
		}
	}
	if err := c.Exec(ctx, db, `INSERT INTO kv (bucket, k, v) SELECT * FROM unnest($1::TEXT[], $2::BYTEA[], $3::BYTEA[])`, bs, ks, vs); err != nil {
		t.Fatal(err)
	}

	e := openPGTestEngine(t, url)
	kvView(t, e, func(tx kvTx) error {
		for _, name := range names {
			got := map[string]string{}
			var prev []byte
			tx.Bucket([]byte(name)).ForEach(func(k, v []byte) error {
				if prev != nil && bytes.Compare(prev, k) >= 0 {
					t.Errorf("%s: %x after %x", name, k, prev)
				}
				prev = bytes.Clone(k)
				got[string(k)] = string(v)
				return nil
			})
			if len(got) != len(want[name]) {
				t.Errorf("%s: %d keys after the move, want %d", name, len(got), len(want[name]))
			}
			for k, v := range want[name] {
				if got[k] != v {
					t.Errorf("%s: %x = %x, want %x", name, k, got[k], v)
					break
				}
			}
		}
		return nil
	})
	// kv holds only the bucket without a table; the tables hold the rest.
	if err := c.Exec(ctx, db, fmt.Sprintf(`DO $$ BEGIN
		IF (SELECT count(*) FROM kv WHERE bucket <> 'tokens') <> 0 OR (SELECT count(*) FROM kv) <> %d
			OR (SELECT count(*) FROM reports) <> %d OR (SELECT count(*) FROM devices) + (SELECT count(*) FROM device_reports) <> %d
			OR (SELECT version FROM farmwatch_schema) <> %d
		THEN RAISE 'not moved'; END IF; END $$`, len(want["tokens"]), len(want["reports"]), len(want["devices"]), pgSchemaVersion())); err != nil {
		t.Fatal(err)
	}
	// A collector of the first schema still running writes these buckets'
	// keys to kv, where no upgraded collector would read them: its write
	// fails instead, and what it was storing is not acknowledged.
	for _, tb := range pgTablesInOrder() {
		err := c.Exec(ctx, db, `INSERT INTO kv (bucket, k, v) VALUES ($1, $2, $3) ON CONFLICT (bucket, k) DO UPDATE SET v = excluded.v`,
			tb.bucket, []byte("k"), []byte("v"))
		if err == nil || !strings.Contains(err.Error(), "_in_tables") {
			t.Errorf("a first-schema write to bucket %s: %v, want a check violation", tb.bucket, err)
		}
	}
}

// A key that cannot move stops the schema change, and the database stays
// at schema 1 with its keys where they were.
func TestPGMigrationRefusesUnfitKey(t *testing.T) {
	c, url := pgSchema1(t)
	db := pgDBName(url)
	ctx := context.Background()
	if err := c.Exec(ctx, db, `INSERT INTO kv_buckets (name) VALUES ('alert_events');
		INSERT INTO kv (bucket, k, v) VALUES ('alert_events', '\x0000000000000001', 'ok'), ('alert_events', '\x01', 'bad')`); err != nil {
		t.Fatal(err)
	}
	_, err := openPGEngine(ctx, url)
	if err == nil || !strings.Contains(err.Error(), "0002_tables.sql") || !strings.Contains(err.Error(), "8-byte event id") {
		t.Fatalf("open with a key that does not fit: %v", err)
	}
	if err := c.Exec(ctx, db, `DO $$ BEGIN
		IF (SELECT version FROM farmwatch_schema) <> 1 OR (SELECT count(*) FROM kv) <> 2
			OR EXISTS (SELECT 1 FROM pg_tables WHERE tablename = 'alert_events')
		THEN RAISE 'changed'; END IF; END $$`); err != nil {
		t.Fatal(err)
	}
}

// pgSchema1 is a new database at the first schema, as a collector of that
// schema left it.
func pgSchema1(t testing.TB) (*pgtest.Cluster, string) { return pgSchemaAt(t, 1) }

// pgSchemaAt is a new, empty database at schema version.
func pgSchemaAt(t testing.TB, version int) (*pgtest.Cluster, string) {
	t.Helper()
	c := pgtest.Shared(t)
	url := c.NewDatabase(t)
	migs, err := pgMigrations()
	if err != nil {
		t.Fatal(err)
	}
	var sql strings.Builder
	for _, m := range migs[:version] {
		sql.WriteString(m.sql + ";\n")
	}
	fmt.Fprintf(&sql, `CREATE TABLE farmwatch_schema (id INT4 PRIMARY KEY, version INT8 NOT NULL);
		INSERT INTO farmwatch_schema VALUES (1, %d)`, version)
	if err := c.Exec(context.Background(), pgDBName(url), sql.String()); err != nil {
		t.Fatal(err)
	}
	return c, url
}

// The schema change's move of a first-schema store's reports into their
// table: what an upgrade costs per report (reports are nearly all of a
// store's rows). Reported as ns/report.
func BenchmarkPGMoveToTables(b *testing.B) {
	const reports = 200_000
	report := bytes.Repeat([]byte("r"), 1200) // about a stored report's size
	benchPGUpgrade(b, 1, reports, func(c *pgtest.Cluster, db string) error {
		if err := c.Exec(context.Background(), db, `INSERT INTO kv_buckets (name) VALUES ('reports')`); err != nil {
			return err
		}
		return c.Exec(context.Background(), db, `INSERT INTO kv (bucket, k, v) SELECT 'reports', int8send(1700000000000000000 + i) || int8send((1::int8 << 40) | i), $1
			FROM generate_series(1, `+fmt.Sprint(reports)+`) AS i`, report)
	}, nil)
}

// benchPGUpgrade times opening a database of schema from, which load
// fills before each run, and reports it per report; check looks at the
// upgraded engine outside the timing.
func benchPGUpgrade(b *testing.B, from, reports int, load func(c *pgtest.Cluster, db string) error, check func(e *pgEngine)) {
	for b.Loop() {
		b.StopTimer()
		c, url := pgSchemaAt(b, from)
		if err := load(c, pgDBName(url)); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		e, err := openPGEngine(context.Background(), url)
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if check != nil {
			check(e)
		}
		e.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*reports), "ns/report")
}

// The schema change's move of a schema-3 store's devices bucket into its
// tables: 20,000 device records (with analysis state and spool ledger) and
// the report index of 200,000 reports. Reported per report, as the index
// is nearly all of the bucket's rows.
func BenchmarkPGMoveDevices(b *testing.B) {
	const devices, reports = 20_000, 200_000
	rec := joinDeviceRecord(deviceRecord{device: bytes.Repeat([]byte("d"), 200), state: bytes.Repeat([]byte("s"), 300),
		spools: bytes.Repeat([]byte("l"), 20)})
	benchPGUpgrade(b, 3, reports, func(c *pgtest.Cluster, db string) error {
		if err := c.Exec(context.Background(), db, `INSERT INTO kv_buckets (name) VALUES ('devices')`); err != nil {
			return err
		}
		if err := c.Exec(context.Background(), db, `INSERT INTO kv (bucket, k, v) SELECT 'devices', convert_to('dev-' || i, 'UTF8'), $1
			FROM generate_series(1, `+fmt.Sprint(devices)+`) AS i`, rec); err != nil {
			return err
		}
		return c.Exec(context.Background(), db, `INSERT INTO kv (bucket, k, v)
			SELECT 'devices', convert_to('dev-' || (1 + i % `+fmt.Sprint(devices)+`), 'UTF8') || '\x00ffffffff'::BYTEA || int8send(-1 - i / `+fmt.Sprint(devices)+`),
				int8send(1700000000000000000 + i) || int8send((1::int8 << 40) | i)
			FROM generate_series(1, `+fmt.Sprint(reports)+`) AS i`)
	}, func(e *pgEngine) {
		var n int
		kvView(b, e, func(tx kvTx) error { n = tx.Bucket(bucketDevices).KeyN(); return nil })
		if n != devices+reports {
			b.Fatalf("%d keys in the devices bucket after the move, want %d", n, devices+reports)
		}
	})
}

// A collector of an older schema writing a report, or a device, while an
// upgraded one changes the schema: the key is moved with the others, never
// left in kv where no upgraded collector would read it.
func TestPGMigrationMovesConcurrentWrite(t *testing.T) {
	reportKey := func(i uint64) []byte {
		return binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, 1_700_000_000_000_000_000+i), 1<<40|i)
	}
	device := joinDeviceRecord(deviceRecord{device: []byte("p")})
	for _, c := range []struct {
		bucket, table string
		key           func(i uint64) []byte
		val           []byte
	}{
		{"reports", "reports", reportKey, []byte("report")},
		{"devices", "devices", func(i uint64) []byte { return []byte(fmt.Sprint("d-", i)) }, device},
	} {
		t.Run(c.bucket, func(t *testing.T) { testPGMigrationMovesConcurrentWrite(t, c.bucket, c.table, c.key, c.val) })
	}
}

func testPGMigrationMovesConcurrentWrite(t *testing.T, bucket, table string, key func(uint64) []byte, val []byte) {
	c, url := pgSchema1(t)
	db := pgDBName(url)
	ctx := context.Background()
	if err := c.Exec(ctx, db, `INSERT INTO kv_buckets (name) VALUES ($1)`, bucket); err != nil {
		t.Fatal(err)
	}
	if err := c.Exec(ctx, db, `INSERT INTO kv (bucket, k, v) VALUES ($1, $2, $3)`, bucket, key(1), val); err != nil {
		t.Fatal(err)
	}
	// The older collector's transaction: its write is in, not yet
	// committed, when the upgrade starts.
	old, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close(ctx)
	oldTx, err := old.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := oldTx.Exec(ctx, `INSERT INTO kv (bucket, k, v) VALUES ($1, $2, $3)`, bucket, key(2), val); err != nil {
		t.Fatal(err)
	}
	opened := make(chan error, 1)
	go func() {
		e, err := openPGEngine(ctx, url)
		if err == nil {
			e.Close()
		}
		opened <- err
	}()
	// The upgrade waits for kv's lock; then the older write commits.
	watch, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer watch.Close(ctx)
	for waiting := false; !waiting; {
		if err := watch.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_locks WHERE relation = 'kv'::regclass AND NOT granted)`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-opened:
			t.Fatalf("the upgrade did not wait for the older collector's transaction: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
	}
	if err := oldTx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-opened; err != nil {
		t.Fatalf("upgrade: %v", err)
	}
	if err := c.Exec(ctx, db, `DO $$ BEGIN
		IF (SELECT count(*) FROM kv) <> 0 OR (SELECT count(*) FROM `+table+`) <> 2 THEN RAISE 'a key left behind'; END IF; END $$`); err != nil {
		t.Fatal(err)
	}
	// From now on the older collector's writes fail.
	if _, err := old.Exec(ctx, `INSERT INTO kv (bucket, k, v) VALUES ($1, $2, $3)`, bucket, key(3), val); err == nil || !strings.Contains(err.Error(), "_in_tables") {
		t.Fatalf("an older collector's write after the upgrade: %v", err)
	}
}

// A store of the schema the devices bucket was last kept in kv at (3): its
// devices, analysis states, spool ledgers and report index move to their
// tables when an upgraded collector opens it, and the store reads every
// device and report as before. The rows read in SQL as schema 0004 says.
func TestPGMigrationMovesDevices(t *testing.T) {
	ctx := context.Background()
	c := pgtest.Shared(t)
	url := c.NewDatabase(t)
	db := pgDBName(url)
	s, err := OpenPostgres(ctx, url, Options{})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	ids := []string{"d-0", "d-1", "d-10", "e"}
	for i, id := range ids {
		addDevice(t, s, id)
		for seq := range uint64(3 + i) {
			if _, err := s.Ingest(id, []*pb.StoredReport{stored(id, seq+1, at.Add(time.Duration(seq)*time.Minute))}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := s.Update(func(tx *Tx) error { return tx.PutDeviceState("d-1", []byte("analysis state")) }); err != nil {
		t.Fatal(err)
	}
	// What the store shows of each device, to compare after the upgrade.
	view := func(s *Store) string {
		var sb strings.Builder
		if err := s.View(func(tx *Tx) error {
			devs, err := tx.Devices("")
			if err != nil {
				return err
			}
			for _, d := range devs {
				reports, err := tx.Reports(d.GetId(), 100)
				if err != nil {
					return err
				}
				fmt.Fprintf(&sb, "%s last=%d state=%q has3=%v reports:", d.GetId(), d.GetLastSeq(), tx.DeviceStateView(d.GetId()), tx.HasReport(d.GetId(), 3))
				for _, r := range reports {
					fmt.Fprintf(&sb, " %d@%s", r.GetReport().GetSeq(), r.GetReceivedAt().AsTime().Format(time.TimeOnly))
				}
				sb.WriteString("\n")
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return sb.String()
	}
	before := view(s)
	if !strings.Contains(before, `d-1 last=4 state="analysis state" has3=true reports: 4@12:03:00 3@12:02:00`) {
		t.Fatalf("before the upgrade:\n%s", before)
	}
	// Typed rows: generation and seq read back from the ranks, the state
	// in its column.
	var seqs []int64
	var states int
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, _ := conn.Query(ctx, `SELECT 9223372036854775807 - seq_rank FROM device_reports
		WHERE device_id = 'e' AND 4294967295 - gen_rank = 0 ORDER BY gen_rank, seq_rank`)
	if seqs, err = pgx.CollectRows(rows, pgx.RowTo[int64]); err != nil {
		t.Fatal(err)
	}
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM devices WHERE analysis_state = 'analysis state' AND spool_ledger IS NOT NULL`).Scan(&states); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(seqs) != "[6 5 4 3 2 1]" || states != 1 {
		t.Fatalf("device e's seqs in generation 0, newest first: %v; devices with the state set: %d", seqs, states)
	}
	s.Close()

	// Back to schema 3: the devices bucket's keys in kv, as a collector of
	// that schema kept them.
	e := openPGTestEngine(t, url)
	var ks, vs [][]byte
	kvView(t, e, func(tx kvTx) error {
		return tx.Bucket(bucketDevices).ForEach(func(k, v []byte) error {
			ks, vs = append(ks, bytes.Clone(k)), append(vs, bytes.Clone(v))
			return nil
		})
	})
	e.Close()
	if len(ks) != len(ids)+3+4+5+6 {
		t.Fatalf("%d keys in the devices bucket, want %d", len(ks), len(ids)+18)
	}
	if err := c.Exec(ctx, db, `DROP TABLE devices, device_reports, clusters, cluster_links;
		ALTER TABLE kv DROP CONSTRAINT kv_devices_in_tables, DROP CONSTRAINT kv_clusters_in_tables;
		UPDATE farmwatch_schema SET version = 3`); err != nil {
		t.Fatal(err)
	}
	if err := c.Exec(ctx, db, `INSERT INTO kv (bucket, k, v) SELECT 'devices', t.k, t.v FROM unnest($1::BYTEA[], $2::BYTEA[]) AS t (k, v)`, ks, vs); err != nil {
		t.Fatal(err)
	}

	s, err = OpenPostgres(ctx, url, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if after := view(s); after != before {
		t.Fatalf("after the upgrade:\n%s\nbefore:\n%s", after, before)
	}
	if err := c.Exec(ctx, db, fmt.Sprintf(`DO $$ BEGIN
		IF EXISTS (SELECT 1 FROM kv WHERE bucket = 'devices') OR (SELECT count(*) FROM devices) <> %d
			OR (SELECT count(*) FROM device_reports) <> 18 OR (SELECT version FROM farmwatch_schema) <> %d
		THEN RAISE 'not moved'; END IF; END $$`, len(ids), pgSchemaVersion())); err != nil {
		t.Fatal(err)
	}
}

// Prefetch reads many keys in a few queries, and the Gets after it answer
// what they answer without it: values of kv buckets and of tables, absent
// keys, and what the transaction itself wrote or deleted before.
func TestPGPrefetch(t *testing.T) {
	_, _, e := pgTestEngine(t)
	rec := func(i int) []byte {
		return joinDeviceRecord(deviceRecord{device: []byte(fmt.Sprint("device ", i)), state: []byte{byte(i)}})
	}
	var devs, hires [][]byte
	kvUpdate(t, e, func(tx kvTx) error {
		d, _ := tx.CreateBucketIfNotExists(bucketDevices)
		h, _ := tx.CreateBucketIfNotExists(bucketHires)
		for i := range 2500 {
			devs, hires = append(devs, []byte(fmt.Sprint("dev-", i))), append(hires, []byte(fmt.Sprint("hire-", i)))
			if err := d.Put(devs[i], rec(i)); err != nil {
				return err
			}
			if err := d.Put(ReportIndexKey(string(devs[i]), 0, 1), make([]byte, 16)); err != nil {
				return err
			}
			if err := h.Put(hires[i], []byte(fmt.Sprint("hire record ", i))); err != nil {
				return err
			}
		}
		return nil
	})
	// Every other key asked for exists; some are asked for twice.
	var ask [][]byte
	for i := range 3000 {
		ask = append(ask, []byte(fmt.Sprint("dev-", 2*i%3500)))
	}
	read := func(tx kvTx, bucket []byte, keys [][]byte) []string {
		var out []string
		b := tx.Bucket(bucket)
		for _, k := range keys {
			out = append(out, fmt.Sprintf("%s=%x", k, b.Get(k)))
		}
		return out
	}
	var want, got []string
	kvView(t, e, func(tx kvTx) error { want = read(tx, bucketDevices, ask); return nil })
	kvView(t, e, func(tx kvTx) error {
		ptx := tx.(*pgTx)
		tx.Bucket(bucketDevices) // the bucket's existence: a round trip of its own
		before := ptx.trips
		ptx.Prefetch(bucketDevices, ask)
		prefetch := ptx.trips - before
		got = read(tx, bucketDevices, ask)
		// 1,750 distinct keys, a thousand a query.
		if gets := ptx.trips - before - prefetch; prefetch != 2 || gets != 0 {
			t.Errorf("%d keys: %d queries to prefetch, %d round trips of Gets after it; want 2 and none", len(ask), prefetch, gets)
		}
		return nil
	})
	kvDiff(t, "devices, with and without prefetch", want, got)

	// In a writing transaction: a key put or deleted before the prefetch
	// reads as the transaction left it.
	kvUpdate(t, e, func(tx kvTx) error {
		h := tx.Bucket(bucketHires)
		if err := h.Put(hires[1], []byte("changed")); err != nil {
			return err
		}
		if err := h.Delete(hires[2]); err != nil {
			return err
		}
		tx.(*pgTx).Prefetch(bucketHires, hires[:4])
		got := read(tx, bucketHires, hires[:4])
		want := []string{"hire-0=" + fmt.Sprintf("%x", "hire record 0"), "hire-1=" + fmt.Sprintf("%x", "changed"), "hire-2=", "hire-3=" + fmt.Sprintf("%x", "hire record 3")}
		kvDiff(t, "hires written in the transaction", want, got)
		return nil
	})
}

// forEachRecord lists the devices bucket's records, and only those, on
// both engines alike: devices with report index entries, devices without,
// and index entries whose device record is gone. On PostgreSQL it walks
// the devices table alone, in pages, not a seek per device.
func TestForEachRecord(t *testing.T) {
	fill := func(tx kvTx) error {
		b, err := tx.CreateBucketIfNotExists(bucketDevices)
		if err != nil {
			return err
		}
		for i := range 300 {
			id := fmt.Sprintf("d-%03d", i)
			if i%7 != 3 { // some devices left only their index entries
				if err := b.Put([]byte(id), joinDeviceRecord(deviceRecord{device: []byte(id)})); err != nil {
					return err
				}
			}
			for seq := range uint64(i % 5) {
				if err := b.Put(ReportIndexKey(id, 0, seq), make([]byte, 16)); err != nil {
					return err
				}
			}
		}
		return nil
	}
	walk := func(tx kvTx) []string {
		var out []string
		if err := forEachRecord(tx.Bucket(bucketDevices), func(k, v []byte) error {
			out = append(out, fmt.Sprintf("%s=%x", k, v))
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return out
	}
	bolt := openBoltTestEngine(t)
	kvUpdate(t, bolt, fill)
	var want, got []string
	kvView(t, bolt, func(tx kvTx) error { want = walk(tx); return nil })
	if len(want) != 300-43 {
		t.Fatalf("bolt: %d records, want %d", len(want), 300-43)
	}
	_, _, pg := pgTestEngine(t)
	kvUpdate(t, pg, fill)
	kvView(t, pg, func(tx kvTx) error {
		tx.Bucket(bucketDevices)
		before := tx.(*pgTx).trips
		got = walk(tx)
		// Pages of 16, 32, ... 256 rows: 5 queries for 257 devices, where a
		// seek per device made 257.
		if trips := tx.(*pgTx).trips - before; trips > 6 {
			t.Errorf("%d round trips to list %d devices", trips, len(got))
		}
		return nil
	})
	kvDiff(t, "device records", want, got)
}
