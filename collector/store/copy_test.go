package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/farmwatch/farmwatch/internal/pgtest"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// copyTestStore builds, through the store's API, the bbolt store of a
// collector that has worked for a while: hires and devices, a few hundred
// reports, alerts with their event log, an audit trail, an applicant import
// staged in a nested bucket; then, through bbolt, what the API makes
// rarely: a bucket nested two deep with names that need escaping, empty
// values, an empty bucket and a large sequence. It returns the data dir,
// closed.
func copyTestStore(t testing.TB, reports int) string {
	t.Helper()
	dir := t.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	const devices = 8
	err = s.Update(func(tx *Tx) error {
		for d := range devices {
			hire := fmt.Sprintf("h-%02d", d)
			if err := tx.PutHire(&pb.Hire{Id: hire, Name: fmt.Sprintf("Hire %d", d), Email: hire + "@example.com"}); err != nil {
				return err
			}
			if err := tx.PutDevice(&pb.Device{Id: fmt.Sprintf("d-%02d", d), HireId: hire}); err != nil {
				return err
			}
			if err := tx.Audit(t0.Add(time.Duration(d)*time.Second), "ana@example.com", "hire.create", hire, "imported"); err != nil {
				return err
			}
		}
		for i := range 3 {
			id, err := tx.NextAlertID()
			if err != nil {
				return err
			}
			a := &pb.Alert{Id: id, Kind: "shared_network", Status: "open", Score: 0.5 + float64(i)/10,
				CreatedAt: timestamppb.New(t0), DeviceId: fmt.Sprintf("d-%02d", i)}
			if err := tx.PutAlert(fmt.Sprintf("d-%02d", i), a); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for d := range devices {
		dev := fmt.Sprintf("d-%02d", d)
		var batch []*pb.StoredReport
		for q := 1; q <= reports/devices; q++ {
			at := t0.Add(time.Duration(q) * time.Minute)
			batch = append(batch, &pb.StoredReport{ReceivedAt: timestamppb.New(at), PublicIp: fmt.Sprintf("203.0.113.%d", d+1),
				Report: &pb.Report{Seq: uint64(q), CollectedAt: timestamppb.New(at),
					Host: &pb.Host{Hostname: dev + "-host", KernelVersion: strings.Repeat("v", q%40)}}})
		}
		if _, err := s.Ingest(dev, batch); err != nil {
			t.Fatal(err)
		}
	}
	var staged []*pb.Applicant
	for i := range 40 {
		staged = append(staged, &pb.Applicant{Id: fmt.Sprintf("ap-%03d", i), Name: fmt.Sprintf("Applicant %d", i)})
	}
	if err := s.StageApplicants("imp-1", 1, staged); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	db, err := bolt.Open(filepath.Join(dir, File), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(tx *bolt.Tx) error {
		staging := tx.Bucket(bucketApplicantStaging)
		odd, err := staging.CreateBucket([]byte("imp/2 100%\x00\xff"))
		if err != nil {
			return err
		}
		deep, err := odd.CreateBucket([]byte("deeper"))
		if err != nil {
			return err
		}
		if err := deep.SetSequence(1 << 40); err != nil {
			return err
		}
		for i := range 5 {
			if err := deep.Put([]byte{byte(i), 0, 0xff}, []byte{}); err != nil {
				return err
			}
		}
		if err := odd.Put([]byte("x"), bytes.Repeat([]byte{0xab}, 70_000)); err != nil {
			return err
		}
		_, err = staging.CreateBucket([]byte("empty"))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// copyTestDump is a store's content, read without the engines: bucket path
// -> key -> value, and bucket path -> sequence.
type copyTestDump struct {
	keys map[string]map[string]string
	seqs map[string]uint64
}

func dumpBolt(t *testing.T, dir string) copyTestDump {
	t.Helper()
	db, err := bolt.Open(filepath.Join(dir, File), 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	d := copyTestDump{keys: map[string]map[string]string{}, seqs: map[string]uint64{}}
	var visit func(path string, b *bolt.Bucket)
	visit = func(path string, b *bolt.Bucket) {
		d.keys[path] = map[string]string{}
		d.seqs[path] = b.Sequence()
		b.ForEach(func(k, v []byte) error {
			if v == nil {
				visit(pgBucketPath(path, k), b.Bucket(k))
			} else {
				d.keys[path][string(k)] = string(v)
			}
			return nil
		})
	}
	db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			visit(pgBucketPath("", name), b)
			return nil
		})
	})
	return d
}

func dumpPG(t *testing.T, url string) copyTestDump {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	d := copyTestDump{keys: map[string]map[string]string{}, seqs: map[string]uint64{}}
	rows, _ := conn.Query(ctx, `SELECT name, seq FROM kv_buckets`)
	var name string
	var seq int64
	if _, err := pgx.ForEachRow(rows, []any{&name, &seq}, func() error {
		d.keys[name] = map[string]string{}
		d.seqs[name] = uint64(seq)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	rows, _ = conn.Query(ctx, `SELECT bucket, k, v FROM kv`)
	var k, v []byte
	if _, err := pgx.ForEachRow(rows, []any{&name, &k, &v}, func() error {
		if d.keys[name] == nil {
			return fmt.Errorf("key %q of bucket %s, which kv_buckets does not list", k, name)
		}
		d.keys[name][string(k)] = string(v)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// The buckets kept in tables of their own, read with SQL and joined
	// into keys and values as the engine does.
	for _, tb := range pgTablesInOrder() {
		keys, vals := dest(tb.key), dest(tb.val)
		rows, _ := conn.Query(ctx, `SELECT `+strings.Join(names(tb.columns()), ", ")+` FROM `+tb.name)
		if _, err := pgx.ForEachRow(rows, append(keys, vals...), func() error {
			if d.keys[tb.bucket] == nil {
				return fmt.Errorf("a row of table %s, whose bucket kv_buckets does not list", tb.name)
			}
			d.keys[tb.bucket][string(tb.joinKey(keys))] = string(tb.decodeVal(vals))
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

func sameDump(t *testing.T, src, dst copyTestDump) {
	t.Helper()
	var paths []string
	for p := range src.keys {
		paths = append(paths, p)
	}
	for p := range dst.keys {
		if _, ok := src.keys[p]; !ok {
			t.Errorf("bucket %s in the copy only", p)
		}
	}
	sort.Strings(paths)
	for _, p := range paths {
		got, ok := dst.keys[p]
		if !ok {
			t.Errorf("bucket %s missing from the copy", p)
			continue
		}
		if len(got) != len(src.keys[p]) {
			t.Errorf("bucket %s: %d keys in the copy, %d in the source", p, len(got), len(src.keys[p]))
		}
		for k, v := range src.keys[p] {
			if gv, ok := got[k]; !ok || gv != v {
				t.Errorf("bucket %s key %q: copy has %d bytes (present %v), source %d bytes", p, k, len(gv), ok, len(v))
			}
		}
		if src.seqs[p] != dst.seqs[p] {
			t.Errorf("bucket %s: sequence %d in the copy, %d in the source", p, dst.seqs[p], src.seqs[p])
		}
	}
}

// The copy holds every bucket, key, value and sequence of the source, read
// back with plain SQL; the result's counts are the source's.
func TestCopyToPostgres(t *testing.T) {
	dir := copyTestStore(t, 400)
	url := pgtest.Shared(t).NewDatabase(t)
	var phases []string
	var last CopyProgress
	commits := 0
	res, err := CopyToPostgres(context.Background(), dir, url, CopyOptions{BatchKeys: 50, BatchBytes: 2 << 10,
		Progress: func(p CopyProgress) {
			if len(phases) == 0 || phases[len(phases)-1] != p.Phase {
				phases = append(phases, p.Phase)
			}
			if p.Phase != "copy" {
				return
			}
			// Each transaction holds at most 50 keys and 2 KiB, but for
			// a single larger value.
			commits++
			keys, size := p.Keys-last.Keys, p.Bytes-last.Bytes
			if keys > 50 || (size > 2<<10 && keys != 1) {
				t.Errorf("a transaction of %d keys, %d bytes in bucket %s", keys, size, p.Bucket)
			}
			last = p
		}})
	if err != nil {
		t.Fatal(err)
	}
	if commits < 400/50 {
		t.Errorf("%d transactions for 400 reports and more, at most 50 keys each", commits)
	}
	src := dumpBolt(t, dir)
	sameDump(t, src, dumpPG(t, url))
	if want := "copy verify"; strings.Join(phases, " ") != want {
		t.Errorf("progress phases %q, want %q", phases, want)
	}

	var keys int64
	for _, m := range src.keys {
		keys += int64(len(m))
	}
	if res.Keys != keys || len(res.Buckets) != len(src.keys) {
		t.Fatalf("result: %d keys in %d buckets; the source has %d in %d", res.Keys, len(res.Buckets), keys, len(src.keys))
	}
	for _, b := range res.Buckets {
		if b.Keys != int64(len(src.keys[b.Path])) || b.Sequence != src.seqs[b.Path] {
			t.Errorf("result bucket %s: %d keys, sequence %d; the source: %d, %d", b.Path, b.Keys, b.Sequence, len(src.keys[b.Path]), src.seqs[b.Path])
		}
	}
	for _, p := range []string{"reports", "applicant_staging/imp-1", "applicant_staging/imp%2F2%20100%25%00%FF/deeper", "applicant_staging/empty"} {
		if _, ok := src.keys[p]; !ok {
			t.Errorf("the test store lacks bucket %s", p)
		}
	}
	if n := len(src.keys["reports"]); n != 400 {
		t.Errorf("the test store holds %d reports, want 400", n)
	}
	for _, p := range []string{"hires", "devices", "devices_by_hire", "alerts", "alerts_by_key", "alert_events", "audit", "meta"} {
		if len(src.keys[p]) == 0 {
			t.Errorf("the test store's bucket %s is empty", p)
		}
	}
	if res.Checksum == ([32]byte{}) {
		t.Error("no checksum")
	}

	// Comparing again gives the same sums.
	again, err := VerifyCopy(context.Background(), dir, url, CopyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if again.Checksum != res.Checksum {
		t.Errorf("verify: checksum %x, the copy's %x", again.Checksum, res.Checksum)
	}
}

// A database holding a store, whole or partial, is never written to.
func TestCopyRefusesTargetWithData(t *testing.T) {
	dir := copyTestStore(t, 40)
	url := pgtest.Shared(t).NewDatabase(t)
	if _, err := CopyToPostgres(context.Background(), dir, url, CopyOptions{}); err != nil {
		t.Fatal(err)
	}
	before := dumpPG(t, url)
	_, err := CopyToPostgres(context.Background(), dir, url, CopyOptions{})
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("already holds a farmwatch store (schema %d)", SchemaVersion)) || !strings.Contains(err.Error(), "never merges or overwrites") {
		t.Fatalf("second copy: %v", err)
	}
	sameDump(t, before, dumpPG(t, url))

	// Data of another kind in the tables, without a marker, is refused too.
	url = pgtest.Shared(t).NewDatabase(t)
	e := openPGTestEngine(t, url)
	kvUpdate(t, e, func(tx kvTx) error {
		b, err := tx.CreateBucketIfNotExists([]byte("other"))
		if err != nil {
			return err
		}
		return b.Put([]byte("k"), []byte("v"))
	})
	if _, err := CopyToPostgres(context.Background(), dir, url, CopyOptions{}); err == nil || !strings.Contains(err.Error(), "partial copy") {
		t.Fatalf("copy into a database with data: %v", err)
	}
}

// An interrupted copy leaves a database without the completion marker,
// which the next copy refuses, saying to drop and recreate it.
func TestCopyInterruptedThenRefused(t *testing.T) {
	dir := copyTestStore(t, 200)
	url := pgtest.Shared(t).NewDatabase(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var copied int64
	_, err := CopyToPostgres(ctx, dir, url, CopyOptions{BatchKeys: 20, Progress: func(p CopyProgress) {
		if p.Keys >= 100 {
			copied = p.Keys
			cancel()
		}
	}})
	if err == nil || !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "drop and recreate") {
		t.Fatalf("interrupted copy: %v", err)
	}
	d := dumpPG(t, url)
	if _, ok := d.keys["meta"][string(keySchema)]; ok {
		t.Fatal("an interrupted copy wrote the completion marker")
	}
	n := 0
	for _, m := range d.keys {
		n += len(m)
	}
	if int64(n) != copied {
		t.Fatalf("%d keys in the database, progress said %d", n, copied)
	}
	_, err = CopyToPostgres(context.Background(), dir, url, CopyOptions{})
	if err == nil || !strings.Contains(err.Error(), "partial copy") || !strings.Contains(err.Error(), "drop and recreate") {
		t.Fatalf("copy into a partial copy: %v", err)
	}
}

// The file of a running collector is refused before anything is written.
func TestCopyRefusesLockedSource(t *testing.T) {
	dir := copyTestStore(t, 8)
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	url := pgtest.Shared(t).NewDatabase(t)
	_, err = CopyToPostgres(context.Background(), dir, url, CopyOptions{})
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "stop the collector") {
		t.Fatalf("copy of a locked file: %v", err)
	}
}

// A file of another schema is refused, saying what to do.
func TestCopyRefusesOtherSchema(t *testing.T) {
	url := pgtest.Shared(t).NewDatabase(t)
	for _, c := range []struct {
		schema uint64
		want   string
	}{
		{SchemaVersion - 1, "open it once with this farmwatch's collector"},
		{SchemaVersion + 1, "newer than this farmwatch's"},
	} {
		dir := copyTestStore(t, 8)
		db, err := bolt.Open(filepath.Join(dir, File), 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Put(keySchema, u64(c.schema)) })
		db.Close()
		_, err = CopyToPostgres(context.Background(), dir, url, CopyOptions{})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Fatalf("schema %d: %v, want %q", c.schema, err, c.want)
		}
	}
	// The file is refused before the database is touched.
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var tables int
	if err := conn.QueryRow(context.Background(), `SELECT count(*) FROM pg_tables WHERE schemaname = 'public'`).Scan(&tables); err != nil || tables != 0 {
		t.Fatalf("refused copies made %d tables (%v)", tables, err)
	}
	if _, err := CopyToPostgres(context.Background(), t.TempDir(), url, CopyOptions{}); err == nil || !strings.Contains(err.Error(), "holds no farmwatch.db") {
		t.Fatalf("copy of an empty dir: %v", err)
	}
}

// Verification reads the target back: a changed value, a missing key, a
// changed sequence and a bucket of its own are each named.
func TestVerifyCopyDetectsDifferences(t *testing.T) {
	dir := copyTestStore(t, 40)
	c := pgtest.Shared(t)
	url := c.NewDatabase(t)
	if _, err := CopyToPostgres(context.Background(), dir, url, CopyOptions{}); err != nil {
		t.Fatal(err)
	}
	db := pgDBName(url)
	for _, m := range []struct {
		name, change, undo, want string
	}{
		{"value", `UPDATE kv SET v = v || '\x00'::bytea WHERE bucket = 'hires' AND k = 'h-03'::bytea`,
			`UPDATE kv SET v = substring(v from 1 for length(v) - 1) WHERE bucket = 'hires' AND k = 'h-03'::bytea`,
			"bucket hires differs: the source has 8 keys"},
		{"report", `UPDATE reports SET report = report || '\x00'::bytea WHERE received_ns = (SELECT min(received_ns) FROM reports)`,
			`UPDATE reports SET report = substring(report from 1 for length(report) - 1) WHERE received_ns = (SELECT min(received_ns) FROM reports)`,
			"bucket reports differs: the source has 40 keys"},
		{"deleted key", `DELETE FROM kv WHERE bucket = 'applicant_staging/imp-1' AND k = '\x0000000000000007'::bytea`,
			"", "bucket applicant_staging/imp-1 differs: the source has 40 keys (sha256 "},
		{"sequence", `UPDATE kv_buckets SET seq = seq + 1 WHERE name = 'alerts'`,
			`UPDATE kv_buckets SET seq = seq - 1 WHERE name = 'alerts'`, "bucket alerts: sequence 3 in the source, 4 in the target"},
		{"extra bucket", `INSERT INTO kv_buckets (name) VALUES ('applicant_staging/imp-9')`,
			`DELETE FROM kv_buckets WHERE name = 'applicant_staging/imp-9'`, "bucket applicant_staging/imp-9 is in the target but not in the source"},
	} {
		if err := c.Exec(context.Background(), db, m.change); err != nil {
			t.Fatal(err)
		}
		_, err := VerifyCopy(context.Background(), dir, url, CopyOptions{})
		if err == nil || !strings.Contains(err.Error(), m.want) {
			t.Fatalf("%s: verify says %v, want %q", m.name, err, m.want)
		}
		if m.undo == "" {
			break
		}
		if err := c.Exec(context.Background(), db, m.undo); err != nil {
			t.Fatal(err)
		}
		if _, err := VerifyCopy(context.Background(), dir, url, CopyOptions{}); err != nil {
			t.Fatalf("%s undone: %v", m.name, err)
		}
	}
}

// A copy whose verification fails is not left looking finished: its
// marker is removed and a second copy is refused as partial.
func TestCopyFailedVerificationDropsMarker(t *testing.T) {
	dir := copyTestStore(t, 40)
	c := pgtest.Shared(t)
	url := c.NewDatabase(t)
	db := pgDBName(url)
	var tampered bool
	_, err := CopyToPostgres(context.Background(), dir, url, CopyOptions{Progress: func(p CopyProgress) {
		// Buckets are compared in name order: change one compared later.
		if p.Phase == "verify" && !tampered {
			tampered = true
			if err := c.Exec(context.Background(), db, `UPDATE kv SET v = '\x01'::bytea WHERE bucket = 'hires' AND k = 'h-01'::bytea`); err != nil {
				t.Error(err)
			}
		}
	}})
	if err == nil || !strings.Contains(err.Error(), "bucket hires differs") || !strings.Contains(err.Error(), "completion marker was removed") {
		t.Fatalf("copy with a changed row: %v", err)
	}
	if _, ok := dumpPG(t, url).keys["meta"][string(keySchema)]; ok {
		t.Fatal("the completion marker is still there")
	}
	if _, err := CopyToPostgres(context.Background(), dir, url, CopyOptions{}); err == nil || !strings.Contains(err.Error(), "partial copy") {
		t.Fatalf("copy after a failed one: %v", err)
	}
}
