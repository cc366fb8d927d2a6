package store

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func TestClusterLinkKeys(t *testing.T) {
	k := ClusterLinkKey("C-000001", "gateway_mac", "50:c7:bf:00:00:01", "d-1")
	if string(k) != "C-000001\x00gateway_mac\x0050:c7:bf:00:00:01\x00d-1" {
		t.Fatalf("key %q", k)
	}
	for _, tc := range []struct {
		key                          string
		cluster, kind, value, device string
		ok                           bool
	}{
		{string(k), "C-000001", "gateway_mac", "50:c7:bf:00:00:01", "d-1", true},
		{"C\x00k\x00v\x00w\x00d", "C", "k", "v", "w\x00d", true}, // the rest is the device's
		{"C\x00k\x00\x00d", "C", "k", "", "d", true},
		{"C-000001", "", "", "", "", false}, // a record
		{"C\x00k\x00v", "", "", "", "", false},
		{"C\x00k", "", "", "", "", false},
	} {
		c, kind, v, d, ok := ParseClusterLinkKey([]byte(tc.key))
		if ok != tc.ok || c != tc.cluster || kind != tc.kind || v != tc.value || d != tc.device {
			t.Errorf("%q: %q %q %q %q %v", tc.key, c, kind, v, d, ok)
		}
	}
	at := time.Date(2026, 11, 1, 12, 0, 0, 123456789, time.UTC)
	for _, strong := range []bool{true, false} {
		got, s, err := ParseClusterLinkValue(ClusterLinkValue(at, strong))
		if err != nil || !got.Equal(at) || s != strong {
			t.Fatalf("value read back as %v %v %v", got, s, err)
		}
	}
	if _, _, err := ParseClusterLinkValue([]byte{1, 2, 3}); err == nil {
		t.Fatal("a short value parsed")
	}
}

// Two clusters as a collector of schema 9 stored them: the links inside
// each record.
var legacyClusters = map[string]string{
	"C-000001": `{"id":"C-000001","members":{"d-1":{"hire_id":"h-1","joined_at":"2026-11-01T12:00:00Z"},` +
		`"d-2":{"hire_id":"h-2","joined_at":"2026-11-01T12:05:00Z"},"d-3":{"hire_id":"h-3","joined_at":"2026-11-01T13:00:00Z"}},` +
		`"links":{"gateway_mac|50:c7:bf:00:00:01":{"kind":"gateway_mac","value":"50:c7:bf:00:00:01","strong":true,` +
		`"devices":{"d-1":"2026-11-01T12:00:00Z","d-2":"2026-11-01T12:05:00.123456789Z"}},` +
		`"public_ip|68.2.1.7":{"kind":"public_ip","value":"68.2.1.7","strong":false,` +
		`"devices":{"d-1":"2026-11-01T12:00:00Z","d-3":"2026-11-01T13:00:00-07:00"}}},` +
		`"farm":true,"reason":"3 devices","created":"2026-11-01T12:00:00Z","updated":"2026-11-01T13:00:00Z"}`,
	"C-000002": `{"id":"C-000002","members":{"e-1":{"hire_id":"h-4","joined_at":"2026-11-02T12:00:00Z"},` +
		`"e-2":{"hire_id":"h-5","joined_at":"2026-11-02T12:00:00Z"}},` +
		`"links":{"bssid|aa:bb:cc:00:00:01":{"kind":"bssid","value":"aa:bb:cc:00:00:01","strong":true,` +
		`"devices":{"e-1":"2026-11-02T12:00:00Z","e-2":"2026-11-02T12:00:00Z"}}},` +
		`"farm":false,"created":"2026-11-02T12:00:00Z","updated":"2026-11-02T12:00:00Z"}`,
}

// What the clusters bucket holds once they are migrated: each record
// without its links and with a revision, then a row per link and device.
const migratedClusters = `C-000001 record farm=true members=3 links=false rev=true
C-000001/gateway_mac/50:c7:bf:00:00:01/d-1 2026-11-01T12:00:00Z strong=true
C-000001/gateway_mac/50:c7:bf:00:00:01/d-2 2026-11-01T12:05:00.123456789Z strong=true
C-000001/public_ip/68.2.1.7/d-1 2026-11-01T12:00:00Z strong=false
C-000001/public_ip/68.2.1.7/d-3 2026-11-01T20:00:00Z strong=false
C-000002 record farm=false members=2 links=false rev=true
C-000002/bssid/aa:bb:cc:00:00:01/e-1 2026-11-02T12:00:00Z strong=true
C-000002/bssid/aa:bb:cc:00:00:01/e-2 2026-11-02T12:00:00Z strong=true
`

// describeClusters lists the clusters bucket, a line per key.
func describeClusters(t *testing.T, s *Store) string {
	t.Helper()
	var sb strings.Builder
	s.View(func(tx *Tx) error {
		tx.Scan(BucketClusters, nil, func(k, v []byte) bool {
			if c, kind, value, dev, ok := ParseClusterLinkKey(k); ok {
				at, strong, err := ParseClusterLinkValue(v)
				if err != nil {
					t.Fatal(err)
				}
				fmt.Fprintf(&sb, "%s/%s/%s/%s %s strong=%v\n", c, kind, value, dev, at.Format(time.RFC3339Nano), strong)
				return true
			}
			var rec map[string]json.RawMessage
			if err := json.Unmarshal(v, &rec); err != nil {
				t.Fatalf("record %s: %v", k, err)
			}
			var members map[string]any
			json.Unmarshal(rec["members"], &members)
			_, links := rec["links"]
			_, rev := rec["rev"]
			fmt.Fprintf(&sb, "%s record farm=%s members=%d links=%v rev=%v\n", k, rec["farm"], len(members), links, rev)
			return true
		})
		return nil
	})
	return sb.String()
}

// writeSchema9Clusters makes a bbolt store in dir as a collector of schema 9
// left it, holding the cluster records vs under the ids ks.
func writeSchema9Clusters(tb testing.TB, dir string, ks, vs [][]byte) {
	tb.Helper()
	s, err := Open(dir, Options{})
	if err != nil {
		tb.Fatal(err)
	}
	s.Close()
	db, err := bolt.Open(filepath.Join(dir, File), 0o600, nil)
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(func(tx *bolt.Tx) error {
		for i := range ks {
			if err := tx.Bucket(BucketClusters).Put(ks[i], vs[i]); err != nil {
				return err
			}
		}
		return tx.Bucket(bucketMeta).Put(keySchema, u64(9))
	}); err != nil {
		tb.Fatal(err)
	}
}

// A bbolt file of schema 9 gains its clusters' link entries at its first
// open, a cluster at a time between two seeks.
func TestMigrateClusterLinks(t *testing.T) {
	requireBolt(t)
	saved := migrationChunk
	migrationChunk = 1
	t.Cleanup(func() { migrationChunk = saved })
	dir := t.TempDir()
	var ks, vs [][]byte
	for id, rec := range legacyClusters {
		ks, vs = append(ks, []byte(id)), append(vs, []byte(rec))
	}
	writeSchema9Clusters(t, dir, ks, vs)
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := describeClusters(t, s); got != migratedClusters {
		t.Fatalf("after the migration:\n%s\nwant:\n%s", got, migratedClusters)
	}
}

// On PostgreSQL the records move to the clusters table with the schema
// change, and the store's migration to schema 10, through the key-value
// contract, writes their links as rows of cluster_links.
func TestPGMigrateClusterLinks(t *testing.T) {
	ctx := context.Background()
	c, url := pgSchemaAt(t, 5)
	db := pgDBName(url)
	var ks, vs [][]byte
	for id, rec := range legacyClusters {
		ks, vs = append(ks, []byte(id)), append(vs, []byte(rec))
	}
	if err := c.Exec(ctx, db, `INSERT INTO kv_buckets (name) VALUES ('meta'), ('clusters');
		INSERT INTO kv (bucket, k, v) VALUES ('meta', 'schema_version', '\x0000000000000009'::BYTEA)`); err != nil {
		t.Fatal(err)
	}
	if err := c.Exec(ctx, db, `INSERT INTO kv (bucket, k, v) SELECT 'clusters', t.k, t.v FROM unnest($1::BYTEA[], $2::BYTEA[]) AS t (k, v)`, ks, vs); err != nil {
		t.Fatal(err)
	}
	// Two collectors start together: one migrates, the other finds the
	// store migrated.
	var stores [2]*Store
	var errs [2]error
	var wg sync.WaitGroup
	for i := range stores {
		wg.Go(func() { stores[i], errs[i] = OpenPostgres(ctx, url, Options{}) })
	}
	wg.Wait()
	for i := range stores {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		defer stores[i].Close()
	}
	s := stores[0]
	if got := describeClusters(t, s); got != migratedClusters {
		t.Fatalf("after the migration:\n%s\nwant:\n%s", got, migratedClusters)
	}
	if err := c.Exec(ctx, db, fmt.Sprintf(`DO $$ BEGIN
		IF EXISTS (SELECT 1 FROM kv WHERE bucket = 'clusters') OR (SELECT count(*) FROM clusters) <> 2
			OR (SELECT count(*) FROM cluster_links WHERE strong = 1) <> 4
			OR (SELECT count(*) FROM cluster_links WHERE cluster_id = 'C-000001' AND kind = 'public_ip' AND value = '68.2.1.7') <> 2
			OR (SELECT version FROM farmwatch_schema) <> %d
		THEN RAISE 'not moved'; END IF; END $$`, pgSchemaVersion())); err != nil {
		t.Fatal(err)
	}
	// A third collector opening the migrated store changes nothing.
	s3, err := OpenPostgres(ctx, url, Options{})
	if err != nil {
		t.Fatal(err)
	}
	s3.Close()
	if got := describeClusters(t, s); got != migratedClusters {
		t.Fatalf("after a third open:\n%s", got)
	}
}

// A Seek to any prefix of a cluster's keys (a cluster's links, one
// fingerprint's, a cluster id that is a prefix of another's) lands where
// bbolt lands, then steps the same way both directions, on PostgreSQL's
// two tables as on bbolt's one bucket.
func TestClusterKeysSeekEveryPrefix(t *testing.T) {
	var keys [][]byte
	for _, id := range []string{"C-1", "C-10", "C-2"} {
		keys = append(keys, []byte(id))
		for _, kind := range []string{"bssid", "gateway_mac", "public_ip"} {
			for _, value := range []string{"a", "ab", "b"} {
				for _, dev := range []string{"d-1", "d-10", "d-2"} {
					keys = append(keys, ClusterLinkKey(id, kind, value, dev))
				}
			}
		}
	}
	bounds := map[string]bool{}
	for _, k := range keys {
		for i := range len(k) + 1 {
			bounds[string(k[:i])] = true
		}
		bounds[string(k)+"\x00"], bounds[string(k)+"\x01"] = true, true
	}
	walk := func(e kvEngine) []string {
		if err := e.Update(func(tx kvTx) error {
			b, err := tx.CreateBucketIfNotExists(BucketClusters)
			if err != nil {
				return err
			}
			for i, k := range keys {
				v := ClusterLinkValue(time.Unix(int64(i), 0), i%2 == 0)
				if bytes.IndexByte(k, 0) < 0 {
					v = []byte(`{"id":"` + string(k) + `"}`)
				}
				if err := b.Put(k, v); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		var out []string
		kvView(t, e, func(tx kvTx) error {
			for _, bound := range slices.Sorted(maps.Keys(bounds)) {
				c := tx.Bucket(BucketClusters).Cursor()
				k, v := c.Seek([]byte(bound))
				var n, p []byte
				if k != nil { // past the end, stepping is left undefined
					n, _ = c.Next()
					c.Seek([]byte(bound))
					p, _ = c.Prev()
				}
				out = append(out, fmt.Sprintf("%q: %q %x next %q prev %q", bound, k, v, n, p))
			}
			return nil
		})
		return out
	}
	makers := kvEngineMakers()
	want, got := walk(makers[0].open(t)), walk(makers[1].open(t))
	if len(want) != len(bounds) {
		t.Fatalf("%d seeks for %d bounds", len(want), len(bounds))
	}
	for i := range want {
		if want[i] != got[i] {
			t.Fatalf("bolt %s\n  pg %s", want[i], got[i])
		}
	}
}

// legacyCluster is a schema-9 cluster record of n devices sharing a router,
// a Wi-Fi network and a public IP: 3n links inside the record.
func legacyCluster(id string, n int) []byte {
	at := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	members := map[string]any{}
	devices := map[string]time.Time{}
	for i := range n {
		d := fmt.Sprintf("%s-d-%05d", id, i)
		members[d] = map[string]any{"hire_id": "h-" + d, "joined_at": at}
		devices[d] = at
	}
	links := map[string]any{}
	for _, f := range [][2]string{{"gateway_mac", "50:c7:bf:00:00:01"}, {"bssid", "50:c7:bf:00:00:02"}, {"public_ip", "68.2.1.7"}} {
		links[f[0]+"|"+f[1]] = map[string]any{"kind": f[0], "value": f[1], "strong": f[0] != "public_ip", "devices": devices}
	}
	v, _ := json.Marshal(map[string]any{"id": id, "members": members, "links": links, "farm": n > 2,
		"created": at, "updated": at})
	return v
}

// The store's migration to schema 10 on either backend: 2,000 clusters of
// two devices and one farm of 2,000, 18,000 links in all moved out of their
// records. Reported per link.
//
//	go test -run '^$' -bench MigrateClusterLinks ./collector/store/
//	FARMWATCH_TEST_STORE=postgres go test -run '^$' -bench MigrateClusterLinks ./collector/store/
func BenchmarkMigrateClusterLinks(b *testing.B) {
	const pairs, farm = 2000, 2000
	var ks, vs [][]byte
	for i := range pairs {
		id := fmt.Sprintf("C-%06d", i+2)
		ks, vs = append(ks, []byte(id)), append(vs, legacyCluster(id, 2))
	}
	ks, vs = append(ks, []byte("C-000001")), append(vs, legacyCluster("C-000001", farm))
	links := 3 * (2*pairs + farm)
	ctx := context.Background()
	for b.Loop() {
		b.StopTimer()
		var open func() (*Store, error)
		if testBackend == nil {
			dir := b.TempDir()
			writeSchema9Clusters(b, dir, ks, vs)
			open = func() (*Store, error) { return Open(dir, Options{}) }
		} else {
			c, url := pgSchemaAt(b, pgSchemaVersion())
			db := pgDBName(url)
			if err := c.Exec(ctx, db, `INSERT INTO kv_buckets (name) VALUES ('meta');
				INSERT INTO kv (bucket, k, v) VALUES ('meta', 'schema_version', '\x0000000000000009'::BYTEA)`); err != nil {
				b.Fatal(err)
			}
			if err := c.Exec(ctx, db, `INSERT INTO clusters (cluster_id, record) SELECT * FROM unnest($1::BYTEA[], $2::BYTEA[])`, ks, vs); err != nil {
				b.Fatal(err)
			}
			open = func() (*Store, error) { return OpenPostgres(ctx, url, Options{}) }
		}
		b.StartTimer()
		s, err := open()
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		var n int
		s.View(func(tx *Tx) error {
			tx.Scan(BucketClusters, nil, func(k, _ []byte) bool {
				if bytes.IndexByte(k, 0) >= 0 {
					n++
				}
				return true
			})
			return nil
		})
		if n != links {
			b.Fatalf("%d link entries, want %d", n, links)
		}
		s.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*links), "ns/link")
}

// ScanSized reads what Scan reads, on both engines; on PostgreSQL a
// cluster's links, told how many to expect, come in one query.
func TestScanSizedClusterLinks(t *testing.T) {
	fill := func(tx kvTx) error {
		b, err := tx.CreateBucketIfNotExists(BucketClusters)
		if err != nil {
			return err
		}
		for c := range 30 {
			id := fmt.Sprintf("C-%06d", c)
			if err := b.Put([]byte(id), []byte(`{}`)); err != nil {
				return err
			}
			for d := range 3 * c {
				if err := b.Put(ClusterLinkKey(id, "bssid", "50:c7:bf:00:00:01", fmt.Sprintf("d-%03d", d)), ClusterLinkValue(time.Unix(int64(d), 0), true)); err != nil {
					return err
				}
			}
		}
		return nil
	}
	scan := func(tx *Tx, sized bool) string {
		var sb strings.Builder
		for _, prefix := range []string{"C-000029\x00", "C-000000\x00", "C-00001", "C-000017\x00bssid\x00", "D"} {
			fn := func(k, _ []byte) bool { fmt.Fprintf(&sb, "%q\n", k); return true }
			if sized {
				tx.ScanSized(BucketClusters, []byte(prefix), 87, fn)
			} else {
				tx.Scan(BucketClusters, []byte(prefix), fn)
			}
			sb.WriteString("--\n")
		}
		return sb.String()
	}
	bolt := openBoltTestEngine(t)
	kvUpdate(t, bolt, fill)
	var want string
	kvView(t, bolt, func(tx kvTx) error { want = scan(&Tx{tx: tx}, false); return nil })
	if strings.Count(want, "\n") < 150 {
		t.Fatalf("bolt scans:\n%s", want)
	}
	_, _, pg := pgTestEngine(t)
	kvUpdate(t, pg, fill)
	kvView(t, pg, func(tx kvTx) error {
		if got := scan(&Tx{tx: tx}, true); got != want {
			t.Errorf("sized scans on PostgreSQL:\n%s\nbolt:\n%s", got, want)
		}
		before := tx.(*pgTx).trips
		n := 0
		(&Tx{tx: tx}).ScanSized(BucketClusters, ClusterLinkPrefix("C-000029"), 87, func(k, _ []byte) bool { n++; return true })
		if trips := tx.(*pgTx).trips - before; trips != 1 || n != 87 {
			t.Errorf("%d round trips for %d links", trips, n)
		}
		return nil
	})
}
