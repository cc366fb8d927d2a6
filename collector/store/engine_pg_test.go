package store

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/farmwatch/farmwatch/internal/pgtest"
)

// The PostgreSQL engine's own tests: what bbolt cannot show (concurrent
// writers, a lost connection, the schema version, connection errors).

func pgTestEngine(t *testing.T) (*pgtest.Cluster, string, *pgEngine) {
	t.Helper()
	c := pgtest.Shared(t)
	url := c.NewDatabase(t)
	return c, url, openPGTestEngine(t, url)
}

// pgDBName is the database of a test URL.
func pgDBName(url string) string {
	s := url[strings.LastIndex(url, "/")+1:]
	return s[:strings.IndexByte(s, '?')]
}

// The contract lets a walk go on without repositioning after a write; the
// PostgreSQL cursor does (bbolt needs a Seek, see WritesDuringWalk).
func TestPGWalkSeesWritesWithoutRepositioning(t *testing.T) {
	_, _, e := pgTestEngine(t)
	e.pageMin, e.pageMax = 2, 3
	kvWalkWithWrites(t, e, false)
}

// Two collectors increment one counter: every increment lands once,
// whatever the conflicts cost.
func TestPGConcurrentUpdatesSerialize(t *testing.T) {
	_, url, e1 := pgTestEngine(t)
	e2 := openPGTestEngine(t, url)
	kvUpdate(t, e1, func(tx kvTx) error {
		_, err := tx.CreateBucketIfNotExists([]byte("c"))
		return err
	})
	const perWriter = 200
	var commits sync.Map
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for w, e := range []*pgEngine{e1, e2} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWriter {
				err := e.Update(func(tx kvTx) error {
					b := tx.Bucket([]byte("c"))
					n := uint64(0)
					if v := b.Get([]byte("n")); v != nil {
						n = binary.BigEndian.Uint64(v)
					}
					tx.OnCommit(func() {
						if _, dup := commits.LoadOrStore(fmt.Sprint(w, i), true); dup {
							errs <- fmt.Errorf("OnCommit ran twice for writer %d increment %d", w, i)
						}
					})
					return b.Put([]byte("n"), binary.BigEndian.AppendUint64(nil, n+1))
				})
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	var n uint64
	kvView(t, e1, func(tx kvTx) error {
		n = binary.BigEndian.Uint64(tx.Bucket([]byte("c")).Get([]byte("n")))
		return nil
	})
	calls := 0
	commits.Range(func(any, any) bool { calls++; return true })
	if n != 2*perWriter || calls != 2*perWriter {
		t.Fatalf("counter = %d with %d OnCommit calls, want %d", n, calls, 2*perWriter)
	}
	retries := e1.Retries() + e2.Retries()
	if retries == 0 {
		t.Fatal("no conflict in 400 concurrent read-modify-writes of one key: the transactions did not overlap")
	}
	t.Logf("%d increments, %d attempts run again after a conflict", n, retries)
}

// Update gives up after maxAttempts conflicts, with a clear error.
func TestPGUpdateGivesUp(t *testing.T) {
	_, url, e := pgTestEngine(t)
	e.maxAttempts = 3
	other := openPGTestEngine(t, url)
	kvFill(t, e, "c", "n")
	attempts := 0
	err := e.Update(func(tx kvTx) error {
		attempts++
		tx.OnCommit(func() { t.Error("OnCommit ran for a transaction that never committed") })
		b := tx.Bucket([]byte("c"))
		b.Get([]byte("n"))
		// Another collector changes the key after this transaction read
		// it: the write below conflicts, on every attempt.
		kvUpdate(t, other, func(tx kvTx) error { return tx.Bucket([]byte("c")).Put([]byte("n"), []byte(strconv.Itoa(attempts))) })
		b.Put([]byte("n"), []byte("mine"))
		return nil
	})
	if err == nil || attempts != 3 || !strings.Contains(err.Error(), "conflicted with concurrent ones 3 times") || !pgRetryable(err) {
		t.Fatalf("after %d attempts: %v", attempts, err)
	}
	if e.Retries() != 2 {
		t.Fatalf("Retries = %d, want 2", e.Retries())
	}
}

// A transaction whose server dies mid-way fails and writes nothing, and the
// engine works again once the server is back.
func TestPGConnectionLostMidTransaction(t *testing.T) {
	c := pgtest.Start(t)
	url := c.NewDatabase(t)
	e := openPGTestEngine(t, url)
	kvFill(t, e, "b", "before")
	for _, stop := range []struct {
		name string
		halt func() error
		// read: the loss shows at a read (sticky) rather than at commit
		read bool
	}{{"kill at commit", c.Kill, false}, {"stop at a read", c.Stop, true}} {
		t.Run(stop.name, func(t *testing.T) {
			ran := false
			err := e.Update(func(tx kvTx) error {
				tx.OnCommit(func() { ran = true })
				b := tx.Bucket([]byte("b"))
				b.Put([]byte("lost1"), []byte("x"))
				if b.Get([]byte("before")) == nil { // sends the write: it is on the server, uncommitted
					t.Fatal("Get before the loss found nothing")
				}
				if err := stop.halt(); err != nil {
					t.Fatal(err)
				}
				b.Put([]byte("lost2"), []byte("x"))
				if stop.read {
					if v := b.Get([]byte("other")); v != nil {
						t.Errorf("a read after the loss found %q", v)
					}
				}
				return nil
			})
			if err == nil || ran {
				t.Fatalf("Update across a lost server: %v (OnCommit ran: %v)", err, ran)
			}
			t.Logf("error: %v", err)
			if err := c.Start(); err != nil {
				t.Fatal(err)
			}
			kvView(t, e, func(tx kvTx) error {
				kvWant(t, "after the loss", kvWalk(t, tx.Bucket([]byte("b"))), []string{"before=vbefore"})
				return nil
			})
		})
	}
}

// A database written by a newer farmwatch is refused and left as it was.
func TestPGNewerSchemaRefused(t *testing.T) {
	c, url, e := pgTestEngine(t)
	kvFill(t, e, "b", "k")
	e.Close()
	latest := pgSchemaVersion()
	ctx := context.Background()
	if err := c.Exec(ctx, pgDBName(url), "UPDATE farmwatch_schema SET version = $1", latest+1); err != nil {
		t.Fatal(err)
	}
	_, err := openPGEngine(ctx, url)
	want := fmt.Sprintf("store schema %d is newer than this farmwatch supports (%d): upgrade farmwatch; the database was not changed", latest+1, latest)
	if err == nil || err.Error() != want {
		t.Fatalf("open of a newer schema: %v\nwant %s", err, want)
	}
	// Untouched: the version and the data are as they were (a check that
	// fails raises an error through Exec).
	if err := c.Exec(ctx, pgDBName(url), fmt.Sprintf(`DO $$ BEGIN
		IF (SELECT version FROM farmwatch_schema) <> %d OR (SELECT count(*) FROM kv) <> 1 THEN RAISE 'changed'; END IF; END $$`, latest+1)); err != nil {
		t.Fatal(err)
	}

	// A database holding only a newer version table gains no tables.
	url2 := c.NewDatabase(t)
	if err := c.Exec(ctx, pgDBName(url2), `CREATE TABLE farmwatch_schema (id INT4 PRIMARY KEY, version INT8 NOT NULL);
		INSERT INTO farmwatch_schema VALUES (1, 99)`); err != nil {
		t.Fatal(err)
	}
	if _, err := openPGEngine(ctx, url2); err == nil || !strings.Contains(err.Error(), "store schema 99 is newer") {
		t.Fatalf("open of schema 99: %v", err)
	}
	if err := c.Exec(ctx, pgDBName(url2), `DO $$ BEGIN
		IF (SELECT count(*) FROM pg_tables WHERE schemaname = 'public') <> 1 THEN RAISE 'changed'; END IF; END $$`); err != nil {
		t.Fatal(err)
	}
}

// Collectors opening a new database together apply the schema once, and a
// second open changes nothing.
func TestPGSchemaAppliedOnce(t *testing.T) {
	c := pgtest.Shared(t)
	url := c.NewDatabase(t)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e, err := openPGEngine(context.Background(), url)
			if err == nil {
				e.Close()
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatalf("concurrent open: %v", err)
		}
	}
	e := openPGTestEngine(t, url)
	kvFill(t, e, "b", "k")
	if err := c.Exec(context.Background(), pgDBName(url), fmt.Sprintf(`DO $$ BEGIN
		IF (SELECT version FROM farmwatch_schema) <> %d OR (SELECT count(*) FROM farmwatch_schema) <> 1 THEN RAISE 'bad version row'; END IF; END $$`, pgSchemaVersion())); err != nil {
		t.Fatal(err)
	}
}

func TestPGMigrationFiles(t *testing.T) {
	migs, err := pgMigrations()
	if err != nil {
		t.Fatal(err)
	}
	if len(migs) == 0 || migs[0].name != "0001_init.sql" {
		t.Fatalf("schema files: %v", migs)
	}
}

// Each way an open can fail says what is wrong, names the server, and
// never shows the password.
func TestPGOpenErrors(t *testing.T) {
	c := pgtest.Shared(t)
	good := c.NewDatabase(t)
	const secret = "s3cret-pw"

	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := closed.Addr().String()
	closed.Close()

	// A server that accepts and never answers: only the timeout ends the
	// wait.
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	go func() {
		for {
			conn, err := silent.Accept()
			if err != nil {
				return
			}
			defer conn.Close()
		}
	}()

	port := strconv.Itoa(c.Port())
	for _, tc := range []struct {
		name, url string
		want      []string
	}{
		{"not postgres", "mysql://farmwatch:" + secret + "@127.0.0.1/db", []string{"is not a PostgreSQL URL", "want postgres://"}},
		{"no scheme", "127.0.0.1:5432/db", []string{"want postgres://"}},
		{"does not parse", "postgres://farmwatch:" + secret + "@127.0.0.1:port/db", []string{"does not parse", "want postgres://"}},
		{"bad parameter", "postgres://farmwatch:" + secret + "@127.0.0.1/db?connect_timeout=soon", []string{"want postgres://"}},
		{"refused", "postgres://farmwatch:" + secret + "@" + closedAddr + "/db", []string{"cannot reach PostgreSQL at " + closedAddr, "refused"}},
		{"no answer", "postgres://farmwatch:" + secret + "@" + silent.Addr().String() + "/db?connect_timeout=1",
			[]string{"cannot reach PostgreSQL at " + silent.Addr().String(), "timeout"}},
		{"wrong password", strings.Replace(good, ":"+c.Password()+"@", ":"+secret+"@", 1),
			[]string{"PostgreSQL at 127.0.0.1:" + port, `refused the password of user "farmwatch"`}},
		{"no such database", "postgres://farmwatch:" + c.Password() + "@127.0.0.1:" + port + "/nosuchdb?sslmode=disable",
			[]string{`database "nosuchdb" does not exist on PostgreSQL at 127.0.0.1:` + port, "createdb nosuchdb"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			e, err := openPGEngine(context.Background(), tc.url)
			if err == nil {
				e.Close()
				t.Fatal("open succeeded")
			}
			for _, w := range append(tc.want, "store") {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q: %v", w, err)
				}
			}
			for _, pw := range []string{secret, c.Password()} {
				if strings.Contains(err.Error(), pw) {
					t.Errorf("error shows the password: %v", err)
				}
			}
			if took := time.Since(start); took > 5*time.Second {
				t.Errorf("took %s", took)
			}
			t.Logf("%v", err)
		})
	}
}

// Without connect_timeout in the URL, the open still ends: after
// pgConnectTimeout.
func TestPGDefaultConnectTimeout(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the connect timeout")
	}
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	go func() {
		for {
			conn, err := silent.Accept()
			if err != nil {
				return
			}
			defer conn.Close()
		}
	}()
	start := time.Now()
	_, err = openPGEngine(context.Background(), "postgres://farmwatch:pw@"+silent.Addr().String()+"/db")
	took := time.Since(start)
	if err == nil || took < pgConnectTimeout-time.Second || took > pgConnectTimeout+5*time.Second {
		t.Fatalf("open of a silent server: %v after %s, want an error after %s", err, took, pgConnectTimeout)
	}
	t.Logf("%v", err)
}

// A walk holds one page at a time, however big the bucket.
func TestPGCursorPagesBounded(t *testing.T) {
	c, url, e := pgTestEngine(t)
	kvFill(t, e, "big")
	const n = 20000
	if err := c.Exec(context.Background(), pgDBName(url),
		`INSERT INTO kv (bucket, k, v) SELECT 'big', int8send(i), ''::bytea FROM generate_series(1, $1::int8) i`, n); err != nil {
		t.Fatal(err)
	}
	e.pageMax = 500
	kvView(t, e, func(tx kvTx) error {
		cur := tx.Bucket([]byte("big")).Cursor().(*pgCursor)
		count, biggest := 0, 0
		var prev uint64
		for k, _ := cur.First(); k != nil; k, _ = cur.Next() {
			i := binary.BigEndian.Uint64(k)
			if i != prev+1 {
				t.Fatalf("key %d after %d", i, prev)
			}
			prev = i
			count++
			biggest = max(biggest, cap(cur.page))
		}
		if count != n || biggest > 2*e.pageMax {
			t.Fatalf("walked %d keys (want %d), pages of up to %d rows (pageMax %d)", count, n, biggest, e.pageMax)
		}
		return nil
	})
}

// Reads are cached: a key read twice, or read after being written, costs
// no second query; the read-only View rejects writes on the server too.
func TestPGReadCacheAndReadOnly(t *testing.T) {
	_, _, e := pgTestEngine(t)
	kvFill(t, e, "b", "k")
	err := e.Update(func(tx kvTx) error {
		b := tx.Bucket([]byte("b"))
		b.Get([]byte("k"))
		b.Put([]byte("w"), []byte("written"))
		ptx := tx.(*pgTx)
		ptx.conn.Conn().Close(context.Background()) // any further query fails
		if v := b.Get([]byte("k")); string(v) != "vk" {
			t.Errorf("a cached read: %q", v)
		}
		if v := b.Get([]byte("w")); string(v) != "written" {
			t.Errorf("a read of a written key: %q", v)
		}
		if ptx.err != nil {
			t.Errorf("a cached read went to the server: %v", ptx.err)
		}
		if v := b.Get([]byte("other")); v != nil || ptx.err == nil {
			t.Errorf("a read on the closed connection: %q, %v", v, ptx.err)
		}
		return nil
	})
	if err == nil || !strings.Contains(err.Error(), "connection") {
		t.Fatalf("Update whose connection closed: %v", err)
	}
	kvView(t, e, func(tx kvTx) error {
		if v := tx.Bucket([]byte("b")).Get([]byte("w")); v != nil {
			t.Errorf("the failed Update wrote %q", v)
		}
		return nil
	})
	err = e.View(func(tx kvTx) error {
		ptx := tx.(*pgTx)
		return ptx.roundTrip(&pgOp{sql: `INSERT INTO kv_buckets (name) VALUES ('x')`}, func(pgx.Rows) error { return nil })
	})
	if pgCode(err) != "25006" { // read_only_sql_transaction
		t.Fatalf("a write in a View reached the server: %v", err)
	}
}

// PostgreSQL restarted under load: writers keep going; an Update that
// returned nil is stored, one that failed says why, and once the server is
// back every Update succeeds again.
func TestPGRestartUnderLoad(t *testing.T) {
	c := pgtest.Start(t)
	e := openPGTestEngine(t, c.NewDatabase(t))
	kvFill(t, e, "b")
	var (
		mu      sync.Mutex
		ok      []string
		failed  []error
		stop    = make(chan struct{})
		writers sync.WaitGroup
	)
	for w := range 3 {
		writers.Add(1)
		go func() {
			defer writers.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				key := fmt.Sprintf("w%d-%05d", w, i)
				err := e.Update(func(tx kvTx) error {
					b := tx.Bucket([]byte("b"))
					b.Get([]byte(key))
					return b.Put([]byte(key), []byte("x"))
				})
				mu.Lock()
				if err == nil {
					ok = append(ok, key)
				} else {
					failed = append(failed, err)
				}
				mu.Unlock()
				if err != nil {
					time.Sleep(20 * time.Millisecond)
				}
			}
		}()
	}
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(ok) }
	waitFor := func(n int) {
		deadline := time.Now().Add(30 * time.Second)
		for count() < n {
			if time.Now().After(deadline) {
				t.Fatalf("only %d Updates succeeded, want %d", count(), n)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitFor(30)
	for _, halt := range []func() error{c.Stop, c.Kill} {
		if err := halt(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(300 * time.Millisecond)
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		waitFor(count() + 30)
	}
	close(stop)
	writers.Wait()
	stored := map[string]bool{}
	kvView(t, e, func(tx kvTx) error {
		return tx.Bucket([]byte("b")).ForEach(func(k, _ []byte) error { stored[string(k)] = true; return nil })
	})
	for _, k := range ok {
		if !stored[k] {
			t.Fatalf("Update of %s returned nil but the key is not stored", k)
		}
	}
	for _, err := range failed {
		if !strings.Contains(err.Error(), "PostgreSQL at 127.0.0.1:"+strconv.Itoa(c.Port())) {
			t.Errorf("an Update failed without naming the server: %v", err)
		}
	}
	t.Logf("%d Updates committed, %d failed while the server was down (first: %v), %d attempts run again", len(ok), len(failed), firstErr(failed), e.Retries())
}

func firstErr(errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	return errs[0]
}
