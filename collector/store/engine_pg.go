package store

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/url"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// pgEngine is the shared backend: a PostgreSQL-protocol database (also
// CockroachDB or YugabyteDB: the SQL here is the subset all three accept)
// that several collectors use at once. Every transaction is SERIALIZABLE,
// so concurrent collectors see the same ordered buckets bbolt gives one
// collector; a conflicting Update is run again.
//
// Round trips are what cost: a transaction's BEGIN travels with its first
// statement, writes are queued and sent in one pipelined batch with the next
// read or with the COMMIT, and a key read or written once is answered from
// the transaction's cache afterwards. Cursors read pages of keys (keyset
// queries), so a walk over a large bucket holds one page at a time.
//
// Where it differs from bbolt, in ways the store does not rely on: a key
// and a nested bucket may share a name (bbolt refuses the second); KeyN
// counts the bucket's own keys, also those written earlier in the same
// transaction (bbolt's counts nested buckets and their keys, and only what
// is committed); a walk goes on in key order after a write without a Seek
// (bbolt's cursor must be repositioned).
type pgEngine struct {
	pool   *pgxpool.Pool
	target string // host:port/database, for messages

	maxAttempts      int           // Update runs fn at most this often
	backoff          time.Duration // first retry's pause; doubles, jittered
	pageMin, pageMax int           // cursor page sizes: the first, and the cap as pages double
	retries          atomic.Int64  // Update attempts run again after a conflict
}

const (
	pgConnectTimeout = 10 * time.Second
	// pgMaxPending bounds the writes a transaction queues before it sends
	// them without waiting for a read.
	pgMaxPending = 512
	// pgMaxKeySize and pgMaxValueSize are bbolt's limits, kept so that
	// data moves between the backends.
	pgMaxKeySize   = 32768
	pgMaxValueSize = (1 << 31) - 2
)

//go:embed pgschema/*.sql
var pgSchemaFiles embed.FS

type pgMigration struct {
	version int
	name    string
	sql     string
}

// pgMigrations reads the numbered schema files, which must run 1, 2, 3...
func pgMigrations() ([]pgMigration, error) {
	entries, err := pgSchemaFiles.ReadDir("pgschema")
	if err != nil {
		return nil, err
	}
	var migs []pgMigration
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || !strings.HasSuffix(e.Name(), ".sql") {
			return nil, fmt.Errorf("store: schema file %s is not named NNNN_name.sql", e.Name())
		}
		b, err := pgSchemaFiles.ReadFile(path.Join("pgschema", e.Name()))
		if err != nil {
			return nil, err
		}
		migs = append(migs, pgMigration{version: v, name: e.Name(), sql: string(b)})
	}
	sort.Slice(migs, func(i, j int) bool { return migs[i].version < migs[j].version })
	for i, m := range migs {
		if m.version != i+1 {
			return nil, fmt.Errorf("store: schema file %s: want version %d", m.name, i+1)
		}
	}
	return migs, nil
}

// PostgresSchemaVersion is the schema of a PostgreSQL store that this
// binary writes (the number of its schema files, pgschema/).
func PostgresSchemaVersion() int { return pgSchemaVersion() }

// pgSchemaVersion is the schema this binary writes.
func pgSchemaVersion() int {
	migs, err := pgMigrations()
	if err != nil {
		panic(err) // the embedded files are fixed at build time; the tests read them
	}
	return len(migs)
}

const pgURLForm = "postgres://user:password@host:port/database"

// openPGEngine connects to the database at url (postgres:// or
// postgresql://, with any libpq parameter pgx understands), applies the
// schema files it lacks and returns the engine. The password never appears
// in an error.
func openPGEngine(ctx context.Context, rawURL string) (*pgEngine, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err // url.Error repeats the URL, password included
		}
		return nil, fmt.Errorf("store: the PostgreSQL URL does not parse (%v): want %s", err, pgURLForm)
	}
	hide := func(err error) error { return hidePassword(err, u) }
	if u.Scheme != "postgres" && u.Scheme != "postgresql" {
		return nil, fmt.Errorf("store: %q is not a PostgreSQL URL: want %s", u.Redacted(), pgURLForm)
	}
	cfg, err := pgxpool.ParseConfig(rawURL)
	if err != nil {
		return nil, hide(fmt.Errorf("store: the PostgreSQL URL %s: %v: want %s", u.Redacted(), err, pgURLForm))
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = pgConnectTimeout
	}
	e := &pgEngine{
		target: net.JoinHostPort(cfg.ConnConfig.Host, strconv.Itoa(int(cfg.ConnConfig.Port))) + "/" + cfg.ConnConfig.Database,
		// 24 attempts wait about 4 s in all: a transaction that keeps
		// losing to a busy writer on the same keys (two collectors' ingest
		// writers on one farm) gets through under load rather than failing
		// after a second, and an ingest batch that still fails is retried by
		// its agents from their spools.
		maxAttempts: 24, backoff: 2 * time.Millisecond,
		pageMin: 16, pageMax: 1024,
	}
	e.pool, err = pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, hide(fmt.Errorf("store: PostgreSQL at %s: %v", e.target, err))
	}
	conn, err := e.pool.Acquire(ctx)
	if err != nil {
		e.pool.Close()
		return nil, hide(e.connectError(err, cfg.ConnConfig))
	}
	conn.Release()
	if err := e.migrate(ctx); err != nil {
		e.pool.Close()
		return nil, hide(err)
	}
	return e, nil
}

// connectError says why the first connection failed, in the operator's
// terms.
func (e *pgEngine) connectError(err error, cfg *pgx.ConnConfig) error {
	hostPort := net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port)))
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "28P01":
			return fmt.Errorf("store: PostgreSQL at %s refused the password of user %q (wrong password; SQLSTATE 28P01)", hostPort, cfg.User)
		case "28000":
			return fmt.Errorf("store: PostgreSQL at %s does not let user %q into database %q: %s (see its pg_hba.conf; SQLSTATE 28000)", hostPort, cfg.User, cfg.Database, pgErr.Message)
		case "3D000":
			return fmt.Errorf("store: database %q does not exist on PostgreSQL at %s: create it (createdb %s) or correct the URL", cfg.Database, hostPort, cfg.Database)
		}
		return fmt.Errorf("store: PostgreSQL at %s refused the connection: %s (SQLSTATE %s)", hostPort, pgErr.Message, pgErr.Code)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("store: cannot reach PostgreSQL at %s: no answer within the connect timeout (%s): %s", hostPort, cfg.ConnectTimeout, connectCause(err))
	}
	return fmt.Errorf("store: cannot reach PostgreSQL at %s: %s", hostPort, connectCause(err))
}

// connectCause drops pgx's "failed to connect to user=... database=..."
// and puts the attempts it joined (TLS, then plain) on one line.
func connectCause(err error) string {
	var cerr *pgconn.ConnectError
	if errors.As(err, &cerr) && cerr.Unwrap() != nil {
		err = cerr.Unwrap()
	}
	return strings.ReplaceAll(err.Error(), "\n", "; ")
}

// hidePassword removes the URL's password from an error, whatever layer
// quoted it.
func hidePassword(err error, u *url.URL) error {
	pw, ok := u.User.Password()
	if !ok || pw == "" || !strings.Contains(err.Error(), pw) {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), pw, "xxxxx"))
}

// migrate applies the schema files the database lacks, in one transaction.
// Collectors starting together may race to do it: the loser's transaction
// fails (a conflict, or a table created meanwhile) and it looks again.
func (e *pgEngine) migrate(ctx context.Context) error {
	migs, err := pgMigrations()
	if err != nil {
		return err
	}
	for attempt := 1; ; attempt++ {
		err := e.migrateOnce(ctx, migs)
		if err == nil {
			return nil
		}
		code := pgCode(err)
		// 23514: a collector of an older schema wrote rows the change
		// must move after it read them (pgschema/0003_kv_check.sql); the
		// next attempt moves them.
		if code == "23514" && attempt >= 5 {
			return fmt.Errorf("%w: a collector of an older farmwatch keeps writing to the store; stop the older collectors, then start this one again", err)
		}
		// 23505, 42P07, 42710: another collector applied the same file
		// first (a row, a table, a constraint that now exists).
		if attempt >= 5 || !(pgRetryable(err) || code == "23505" || code == "42P07" || code == "42710" || code == "23514") {
			return err
		}
		time.Sleep(e.backoffFor(attempt))
	}
}

type errSchemaNewer struct{ have, want int }

func (e errSchemaNewer) Error() string {
	return fmt.Sprintf("store schema %d is newer than this farmwatch supports (%d): upgrade farmwatch; the database was not changed", e.have, e.want)
}

func (e *pgEngine) migrateOnce(ctx context.Context, migs []pgMigration) error {
	latest := len(migs)
	conn, err := e.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("store: PostgreSQL at %s: %w", e.target, err)
	}
	defer conn.Release()
	// Look before writing anything: a newer schema is refused untouched.
	have, err := schemaVersion(ctx, conn)
	if err != nil {
		return err
	}
	if have > latest {
		return errSchemaNewer{have, latest}
	}
	if have == latest {
		return nil
	}
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.Serializable})
	if err != nil {
		return fmt.Errorf("store: PostgreSQL at %s: %w", e.target, err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS farmwatch_schema (id INT4 PRIMARY KEY, version INT8 NOT NULL)`); err != nil {
		return fmt.Errorf("store: create the schema version table: %w", err)
	}
	if have, err = schemaVersion(ctx, tx); err != nil {
		return err
	}
	if have > latest {
		return errSchemaNewer{have, latest}
	}
	for _, m := range migs[have:] {
		// Without arguments pgx sends the file as one simple query, so it
		// may hold several statements.
		if _, err := tx.Exec(ctx, m.sql); err != nil {
			return fmt.Errorf("store: apply schema file %s: %w", m.name, err)
		}
		if move := pgDataMoves[m.version]; move != nil {
			if err := move(ctx, tx); err != nil {
				return fmt.Errorf("store: apply schema file %s: %w", m.name, err)
			}
		}
	}
	if _, err := tx.Exec(ctx, `INSERT INTO farmwatch_schema (id, version) VALUES (1, $1)
		ON CONFLICT (id) DO UPDATE SET version = excluded.version`, latest); err != nil {
		return fmt.Errorf("store: record schema version %d: %w", latest, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("store: commit schema version %d: %w", latest, err)
	}
	return nil
}

type pgQuerier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// schemaVersion reads farmwatch_schema; 0 when there is none yet.
func schemaVersion(ctx context.Context, q pgQuerier) (int, error) {
	var v int64
	err := q.QueryRow(ctx, `SELECT version FROM farmwatch_schema WHERE id = 1`).Scan(&v)
	switch {
	case errors.Is(err, pgx.ErrNoRows), pgCode(err) == "42P01": // undefined_table
		return 0, nil
	case err != nil:
		return 0, fmt.Errorf("store: read the schema version: %w", err)
	}
	return int(v), nil
}

func pgCode(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code
	}
	return ""
}

// pgRetryable tells a conflict that running the transaction again can
// resolve: serialization_failure (also CockroachDB's restart) and
// deadlock_detected.
func pgRetryable(err error) bool {
	code := pgCode(err)
	return code == "40001" || code == "40P01"
}

// backoffFor is the jittered pause before attempt+1: the base doubled per
// attempt, capped at 250ms, then a random point in its upper half, so that
// two collectors that conflicted do not meet again in step.
func (e *pgEngine) backoffFor(attempt int) time.Duration {
	d := e.backoff << min(attempt-1, 16)
	d = min(d, 250*time.Millisecond)
	return d/2 + rand.N(d/2+1)
}

// Retries counts the Update attempts run again after a conflict since the
// engine was opened.
func (e *pgEngine) Retries() int64 { return e.retries.Load() }

func (e *pgEngine) Close() error {
	e.pool.Close()
	return nil
}

func (e *pgEngine) View(fn func(kvTx) error) error {
	tx, err := e.begin(false)
	if err != nil {
		return err
	}
	defer tx.release()
	ferr := fn(tx)
	if tx.err != nil {
		return tx.err
	}
	if ferr != nil {
		return ferr
	}
	return tx.commit()
}

func (e *pgEngine) Update(fn func(kvTx) error) error {
	var last error
	for attempt := 1; attempt <= e.maxAttempts; attempt++ {
		if attempt > 1 {
			e.retries.Add(1)
			time.Sleep(e.backoffFor(attempt - 1))
		}
		tx, err := e.begin(true)
		if err != nil {
			return err
		}
		err = tx.run(fn)
		if err == nil {
			for _, f := range tx.onCommit {
				f()
			}
			return nil
		}
		// A conflict, or a connection lost before the commit (a server
		// restarted, a pooled connection that died idle): the attempt
		// rolled back and may run again. A connection lost during the
		// commit is not retried: the commit may have happened.
		if !pgRetryable(err) && !tx.lost {
			return err
		}
		last = err
	}
	if pgRetryable(last) {
		return fmt.Errorf("store: the transaction conflicted with concurrent ones %d times in a row; giving up: %w", e.maxAttempts, last)
	}
	return fmt.Errorf("store: the transaction failed %d times in a row; giving up: %w", e.maxAttempts, last)
}

func (e *pgEngine) begin(writable bool) (*pgTx, error) {
	ctx := context.Background()
	conn, err := e.pool.Acquire(ctx)
	if err != nil {
		return nil, e.connectError(err, e.pool.Config().ConnConfig)
	}
	return &pgTx{e: e, conn: conn, ctx: ctx, writable: writable,
		buckets: map[string]bool{}, cache: map[string]map[string]pgCached{}, gen: map[string]uint64{}}, nil
}

// pgTx is one transaction on one pooled connection.
type pgTx struct {
	e        *pgEngine
	conn     *pgxpool.Conn
	ctx      context.Context
	writable bool
	begun    bool   // BEGIN has reached the server
	pending  []pgOp // writes not sent yet
	err      error  // the first failure (sticky)
	done     bool
	trips    int // batches sent: what the tests count
	// committing: the batch in flight carries COMMIT, so a lost connection
	// leaves the outcome unknown
	committing bool
	// lost: the connection broke before COMMIT was sent, so nothing
	// committed and the attempt can run again on another connection
	lost bool

	buckets  map[string]bool                // bucket path -> exists, once known
	cache    map[string]map[string]pgCached // bucket path -> key -> value read or written
	gen      map[string]uint64              // bucket path -> writes so far, which invalidate cursor pages
	onCommit []func()
}

type pgOp struct {
	sql  string
	args []any
}

type pgCached struct {
	v  []byte
	ok bool // false: known absent
}

func (tx *pgTx) beginSQL() string {
	if tx.writable {
		return "BEGIN ISOLATION LEVEL SERIALIZABLE"
	}
	return "BEGIN ISOLATION LEVEL SERIALIZABLE READ ONLY"
}

func (tx *pgTx) fail(err error) {
	if tx.err != nil {
		return
	}
	if tx.conn != nil && tx.conn.Conn().IsClosed() {
		if tx.committing {
			tx.err = fmt.Errorf("store: PostgreSQL at %s: the connection was lost at commit; the transaction may or may not have committed: %w", tx.e.target, err)
		} else {
			tx.lost = true
			tx.err = fmt.Errorf("store: PostgreSQL at %s: the connection was lost mid-transaction, which rolled back: %w", tx.e.target, err)
		}
		return
	}
	tx.err = fmt.Errorf("store: PostgreSQL at %s: %w", tx.e.target, err)
}

// roundTrip sends, in one pipelined batch, the BEGIN if not sent yet, the
// queued writes, and q (when not nil), whose rows read consumes. A failure
// becomes the transaction's sticky error.
func (tx *pgTx) roundTrip(q *pgOp, read func(pgx.Rows) error) error {
	if tx.err != nil {
		return tx.err
	}
	if tx.done {
		tx.fail(errors.New("the transaction has ended"))
		return tx.err
	}
	b := &pgx.Batch{}
	if !tx.begun {
		b.Queue(tx.beginSQL())
	}
	for _, op := range tx.pending {
		b.Queue(op.sql, op.args...)
	}
	if q != nil {
		b.Queue(q.sql, q.args...)
	}
	writes := len(tx.pending)
	tx.pending = nil
	tx.trips++
	br := tx.conn.SendBatch(tx.ctx, b)
	err := func() error {
		if !tx.begun {
			if _, err := br.Exec(); err != nil {
				return err
			}
			tx.begun = true
		}
		for range writes {
			if _, err := br.Exec(); err != nil {
				return err
			}
		}
		if q == nil {
			return nil
		}
		rows, err := br.Query()
		if err != nil {
			return err
		}
		defer rows.Close()
		if err := read(rows); err != nil {
			return err
		}
		rows.Close()
		return rows.Err()
	}()
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		tx.fail(err)
		return tx.err
	}
	return nil
}

func (tx *pgTx) queue(sql string, args ...any) {
	tx.pending = append(tx.pending, pgOp{sql, args})
	if len(tx.pending) >= pgMaxPending {
		tx.roundTrip(nil, nil)
	}
}

// run runs one attempt of an Update: fn, then commit, or roll back.
func (tx *pgTx) run(fn func(kvTx) error) error {
	defer tx.release()
	ferr := fn(tx)
	if tx.err != nil {
		return tx.err // a failed read explains whatever fn made of it
	}
	if ferr != nil {
		return ferr
	}
	return tx.commit()
}

// commit sends the queued writes and COMMIT in one batch.
func (tx *pgTx) commit() error {
	if !tx.begun && len(tx.pending) == 0 {
		tx.done = true
		return nil // nothing reached the server: nothing to commit
	}
	var tag pgconn.CommandTag
	tx.committing = true
	err := tx.roundTrip(&pgOp{sql: "COMMIT"}, func(rows pgx.Rows) error {
		for rows.Next() {
		}
		rows.Close()
		tag = rows.CommandTag()
		return rows.Err()
	})
	if err != nil {
		return err
	}
	tx.done = true
	if tag.String() != "COMMIT" {
		// PostgreSQL answers COMMIT of a failed transaction with ROLLBACK.
		tx.fail(fmt.Errorf("the server rolled the transaction back at commit (%s)", tag))
		return tx.err
	}
	return nil
}

// release ends the transaction if it is still open (rolling back) and
// returns the connection to the pool; a connection left in a transaction
// (the ROLLBACK failed) is closed by the pool.
func (tx *pgTx) release() {
	if tx.conn == nil {
		return
	}
	if st := tx.conn.Conn().PgConn().TxStatus(); st != 'I' && !tx.conn.Conn().IsClosed() {
		tx.conn.Exec(tx.ctx, "ROLLBACK")
	}
	tx.done = true
	tx.pending = nil
	tx.conn.Release()
	tx.conn = nil
}

func (tx *pgTx) Writable() bool { return tx.writable }

func (tx *pgTx) OnCommit(fn func()) { tx.onCommit = append(tx.onCommit, fn) }

var (
	errPGNotWritable      = errors.New("store: write in a read-only transaction")
	errPGBucketNotFound   = errors.New("store: bucket not found")
	errPGBucketNameNeeded = errors.New("store: bucket name required")
	errPGKeyRequired      = errors.New("store: key required")
	errPGKeyTooLarge      = errors.New("store: key too large")
	errPGValueTooLarge    = errors.New("store: value too large")
	errPGCursorNotOnKey   = errors.New("store: the cursor is not on a key")
)

// pgBucketPath joins a bucket's name to its parent's path. Each name is
// percent-escaped (bytes outside printable ASCII, "%" and "/"), so that any
// byte string names a bucket and "/" only separates levels.
func pgBucketPath(parent string, name []byte) string {
	var sb strings.Builder
	if parent != "" {
		sb.WriteString(parent)
		sb.WriteByte('/')
	}
	for _, c := range name {
		if c <= ' ' || c >= 0x7f || c == '%' || c == '/' {
			fmt.Fprintf(&sb, "%%%02X", c)
		} else {
			sb.WriteByte(c)
		}
	}
	return sb.String()
}

// pgBucketName is the last name of a path, unescaped.
func pgBucketName(p string) []byte {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		p = p[i+1:]
	}
	out := make([]byte, 0, len(p))
	for i := 0; i < len(p); i++ {
		if p[i] == '%' && i+2 < len(p) {
			if c, err := strconv.ParseUint(p[i+1:i+3], 16, 8); err == nil {
				out = append(out, byte(c))
				i += 2
				continue
			}
		}
		out = append(out, p[i])
	}
	return out
}

// likePrefix is a LIKE pattern matching the paths below p.
func likePrefix(p string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return r.Replace(p) + "/%"
}

// bucket returns a handle on the bucket at p, or nil when it does not
// exist. After a failed read the handle is returned anyway: its reads find
// nothing and the commit fails, where a nil would crash callers that know
// the bucket exists.
func (tx *pgTx) bucket(p string) kvBucket {
	if exists, known := tx.buckets[p]; known {
		if !exists {
			return nil
		}
		return tx.handle(p)
	}
	exists := false
	err := tx.roundTrip(&pgOp{sql: `SELECT 1 FROM kv_buckets WHERE name = $1`, args: []any{p}}, func(rows pgx.Rows) error {
		exists = rows.Next()
		return nil
	})
	if err != nil {
		return tx.handle(p)
	}
	tx.buckets[p] = exists
	if !exists {
		return nil
	}
	return tx.handle(p)
}

// handle is the handle on the bucket at p, which exists.
func (tx *pgTx) handle(p string) *pgBucket { return &pgBucket{tx: tx, path: p, ts: pgTables[p]} }

func (tx *pgTx) createBucket(p string, name []byte) (kvBucket, error) {
	if !tx.writable {
		return nil, errPGNotWritable
	}
	if len(name) == 0 {
		return nil, errPGBucketNameNeeded
	}
	if !tx.buckets[p] {
		tx.queue(`INSERT INTO kv_buckets (name) VALUES ($1) ON CONFLICT (name) DO NOTHING`, p)
		tx.buckets[p] = true
	}
	return tx.handle(p), tx.err
}

// deleteBucket removes the bucket at p, its keys and its nested buckets.
func (tx *pgTx) deleteBucket(p string) error {
	if !tx.writable {
		return errPGNotWritable
	}
	var paths []string
	err := tx.roundTrip(&pgOp{sql: `SELECT name FROM kv_buckets WHERE name = $1 OR name LIKE $2`, args: []any{p, likePrefix(p)}},
		func(rows pgx.Rows) error {
			for rows.Next() {
				var name string
				if err := rows.Scan(&name); err != nil {
					return err
				}
				paths = append(paths, name)
			}
			return nil
		})
	if err != nil {
		return err
	}
	if !contains(paths, p) {
		return errPGBucketNotFound
	}
	tx.queue(`DELETE FROM kv WHERE bucket = ANY($1)`, paths)
	for _, sub := range paths {
		for _, t := range pgTables[sub] {
			tx.queue(t.clearSQL)
		}
	}
	tx.queue(`DELETE FROM kv_buckets WHERE name = ANY($1)`, paths)
	for _, sub := range paths {
		tx.buckets[sub] = false
		delete(tx.cache, sub)
		tx.gen[sub]++
	}
	return tx.err
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (tx *pgTx) Bucket(name []byte) kvBucket { return tx.bucket(pgBucketPath("", name)) }

func (tx *pgTx) CreateBucketIfNotExists(name []byte) (kvBucket, error) {
	return tx.createBucket(pgBucketPath("", name), name)
}

func (tx *pgTx) DeleteBucket(name []byte) error { return tx.deleteBucket(pgBucketPath("", name)) }

// pgBucket is a handle on one bucket in one transaction.
type pgBucket struct {
	tx   *pgTx
	path string
	ts   []*pgTable // the bucket's own tables, or none: its keys are in kv
}

// table is the table that holds key, or nil when the bucket's keys are in
// kv.
func (b *pgBucket) table(key []byte) (*pgTable, error) {
	if len(b.ts) == 0 {
		return nil, nil
	}
	if t := pgTableFor(b.ts, key); t != nil {
		return t, nil
	}
	return nil, fmt.Errorf("store: key %x fits none of the tables of bucket %s", key, b.path)
}

func (b *pgBucket) Bucket(name []byte) kvBucket { return b.tx.bucket(pgBucketPath(b.path, name)) }

func (b *pgBucket) CreateBucketIfNotExists(name []byte) (kvBucket, error) {
	return b.tx.createBucket(pgBucketPath(b.path, name), name)
}

func (b *pgBucket) DeleteBucket(name []byte) error {
	return b.tx.deleteBucket(pgBucketPath(b.path, name))
}

func (b *pgBucket) cached() map[string]pgCached {
	m := b.tx.cache[b.path]
	if m == nil {
		m = map[string]pgCached{}
		b.tx.cache[b.path] = m
	}
	return m
}

func (b *pgBucket) Get(key []byte) []byte {
	if c, ok := b.tx.cache[b.path][string(key)]; ok {
		return c.v
	}
	var v []byte
	found := false
	q := &pgOp{sql: `SELECT v FROM kv WHERE bucket = $1 AND k = $2`, args: []any{b.path, key}}
	scan := func(rows pgx.Rows) error { return rows.Scan(&v) }
	t, err := b.table(key)
	if err != nil {
		b.cached()[string(key)] = pgCached{}
		return nil
	}
	if t != nil {
		args, _, _, err := t.splitKey(key, false)
		if err != nil {
			// No key of another shape can be stored, so it is absent.
			b.cached()[string(key)] = pgCached{}
			return nil
		}
		q = &pgOp{sql: t.getSQL, args: args}
		scan = func(rows pgx.Rows) error {
			cols := dest(t.val)
			if err := rows.Scan(cols...); err != nil {
				return err
			}
			v = t.decodeVal(cols)
			return nil
		}
	}
	err = b.tx.roundTrip(q, func(rows pgx.Rows) error {
		if rows.Next() {
			found = true
			return scan(rows)
		}
		return nil
	})
	if err != nil {
		return nil
	}
	if found && v == nil {
		v = []byte{}
	}
	b.cached()[string(key)] = pgCached{v: v, ok: found}
	return v
}

func (b *pgBucket) Put(key, value []byte) error {
	switch {
	case !b.tx.writable:
		return errPGNotWritable
	case len(key) == 0:
		return errPGKeyRequired
	case len(key) > pgMaxKeySize:
		return errPGKeyTooLarge
	case len(value) > pgMaxValueSize:
		return errPGValueTooLarge
	}
	// The batch is sent later: keep copies, the caller may reuse its buffers.
	k := bytes.Clone(key)
	v := append([]byte{}, value...) // never nil: nil would be sent as NULL
	t, err := b.table(k)
	if err != nil {
		return err
	}
	if t != nil {
		args, _, _, err := t.splitKey(k, false)
		if err != nil {
			return err
		}
		vals, err := t.encodeVal(v)
		if err != nil {
			return err
		}
		b.tx.queue(t.putSQL, append(args, vals...)...)
	} else {
		b.tx.queue(`INSERT INTO kv (bucket, k, v) VALUES ($1, $2, $3) ON CONFLICT (bucket, k) DO UPDATE SET v = excluded.v`, b.path, k, v)
	}
	b.cached()[string(key)] = pgCached{v: v, ok: true}
	b.tx.gen[b.path]++
	return b.tx.err
}

func (b *pgBucket) Delete(key []byte) error {
	if !b.tx.writable {
		return errPGNotWritable
	}
	if len(b.ts) > 0 {
		// A key of another shape is not there to delete.
		if t, _ := b.table(key); t != nil {
			if args, _, _, err := t.splitKey(key, false); err == nil {
				b.tx.queue(t.delSQL, args...)
			}
		}
	} else {
		b.tx.queue(`DELETE FROM kv WHERE bucket = $1 AND k = $2`, b.path, bytes.Clone(key))
	}
	b.cached()[string(key)] = pgCached{}
	b.tx.gen[b.path]++
	return b.tx.err
}

func (b *pgBucket) NextSequence() (uint64, error) {
	if !b.tx.writable {
		return 0, errPGNotWritable
	}
	var seq int64
	found := false
	err := b.tx.roundTrip(&pgOp{sql: `UPDATE kv_buckets SET seq = seq + 1 WHERE name = $1 RETURNING seq`, args: []any{b.path}},
		func(rows pgx.Rows) error {
			if rows.Next() {
				found = true
				return rows.Scan(&seq)
			}
			return nil
		})
	if err != nil {
		return 0, err
	}
	if !found {
		return 0, errPGBucketNotFound
	}
	return uint64(seq), nil
}

func (b *pgBucket) KeyN() int {
	var n int64
	q := &pgOp{sql: `SELECT count(*) FROM kv WHERE bucket = $1`, args: []any{b.path}}
	if len(b.ts) > 0 {
		counts := make([]string, len(b.ts))
		for i, t := range b.ts {
			counts[i] = "(" + t.countSQL + ")"
		}
		q = &pgOp{sql: "SELECT " + strings.Join(counts, " + ")}
	}
	b.tx.roundTrip(q, func(rows pgx.Rows) error {
		if rows.Next() {
			return rows.Scan(&n)
		}
		return nil
	})
	return int(n)
}

func (b *pgBucket) ForEach(fn func(k, v []byte) error) error {
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if err := fn(k, v); err != nil {
			return err
		}
	}
	return b.tx.err
}

func (b *pgBucket) ForEachBucket(fn func(name []byte) error) error {
	var names [][]byte
	prefix := b.path + "/"
	err := b.tx.roundTrip(&pgOp{sql: `SELECT name FROM kv_buckets WHERE name LIKE $1`, args: []any{likePrefix(b.path)}},
		func(rows pgx.Rows) error {
			for rows.Next() {
				var p string
				if err := rows.Scan(&p); err != nil {
					return err
				}
				if rest := strings.TrimPrefix(p, prefix); !strings.Contains(rest, "/") {
					names = append(names, pgBucketName(p))
				}
			}
			return nil
		})
	if err != nil {
		return err
	}
	// Escaping changes the order of names; bbolt lists them by their bytes.
	sort.Slice(names, func(i, j int) bool { return bytes.Compare(names[i], names[j]) < 0 })
	for _, n := range names {
		if err := fn(n); err != nil {
			return err
		}
	}
	return nil
}

func (b *pgBucket) Cursor() kvCursor { return &pgCursor{b: b, limit: b.tx.e.pageMin} }

// pgCursor walks a bucket a page at a time. The page is a run of
// consecutive keys in ascending order; loEnd and hiEnd say whether it
// reached the bucket's first or last key when it was read. A write to the
// bucket since then (gen) makes it stale: the next step reads again from
// the key the cursor is on, so the walk sees the write. The cursor's own
// Delete edits the page instead, so that the usual pruning loop (Delete,
// then First again) costs a query per page, not per key.
type pgCursor struct {
	b            *pgBucket
	page         []pgKV
	i            int    // position in page
	on           bool   // false past either end
	deleted      []byte // the key Delete removed from page[i]; page[i] is now its successor
	loEnd, hiEnd bool
	gen          uint64
	limit        int // rows per page: doubles from pageMin up to pageMax
}

type pgKV struct{ k, v []byte }

func (c *pgCursor) fresh() bool { return c.gen == c.b.tx.gen[c.b.path] }

// fetch reads a page: keys after (or from, or before) bound, or from the
// start or end when bound is nil.
func (c *pgCursor) fetch(op string, bound []byte, desc bool) {
	if len(c.b.ts) > 0 {
		c.fetchTables(op, bound, desc)
		return
	}
	sql := `SELECT k, v FROM kv WHERE bucket = $1`
	args := []any{c.b.path}
	if bound != nil {
		sql += ` AND k ` + op + ` $2`
		args = append(args, bound)
	}
	if desc {
		sql += ` ORDER BY k DESC`
	} else {
		sql += ` ORDER BY k`
	}
	sql += ` LIMIT $` + strconv.Itoa(len(args)+1)
	args = append(args, c.limit)
	var page []pgKV
	err := c.b.tx.roundTrip(&pgOp{sql: sql, args: args}, func(rows pgx.Rows) error {
		for rows.Next() {
			var kv pgKV
			if err := rows.Scan(&kv.k, &kv.v); err != nil {
				return err
			}
			if kv.v == nil {
				kv.v = []byte{}
			}
			page = append(page, kv)
		}
		return nil
	})
	c.setPage(page, err, bound == nil, desc, len(page) == c.limit)
}

// setPage makes page (read in descending order when desc) the cursor's;
// full says it may not reach the bucket's end in that direction.
func (c *pgCursor) setPage(page []pgKV, err error, unbounded, desc, full bool) {
	c.limit = min(c.limit*2, c.b.tx.e.pageMax)
	c.gen = c.b.tx.gen[c.b.path]
	c.deleted = nil
	if err != nil {
		page = nil
	}
	if desc {
		for i, j := 0, len(page)-1; i < j; i, j = i+1, j-1 {
			page[i], page[j] = page[j], page[i]
		}
		c.page, c.hiEnd, c.loEnd, c.i = page, unbounded, !full, len(page)-1
	} else {
		c.page, c.loEnd, c.hiEnd, c.i = page, unbounded, !full, 0
	}
	c.on = len(page) > 0
}

func (c *pgCursor) at() ([]byte, []byte) {
	if !c.on {
		return nil, nil
	}
	kv := c.page[c.i]
	return kv.k, kv.v
}

func (c *pgCursor) First() ([]byte, []byte) {
	if c.fresh() && c.loEnd && len(c.page) > 0 {
		c.i, c.on, c.deleted = 0, true, nil
		return c.at()
	}
	c.fetch("", nil, false)
	return c.at()
}

func (c *pgCursor) Last() ([]byte, []byte) {
	if c.fresh() && c.hiEnd && len(c.page) > 0 {
		c.i, c.on, c.deleted = len(c.page)-1, true, nil
		return c.at()
	}
	c.fetch("", nil, true)
	return c.at()
}

func (c *pgCursor) Seek(seek []byte) ([]byte, []byte) {
	c.fetch(">=", bytes.Clone(seek), false)
	return c.at()
}

func (c *pgCursor) Next() ([]byte, []byte) {
	if !c.on {
		return nil, nil
	}
	if del := c.deleted; del != nil {
		// page[i] already is the deleted key's successor.
		c.deleted = nil
		switch {
		case !c.fresh():
			c.fetch(">", del, false)
		case c.i < len(c.page):
		case c.hiEnd:
			c.on = false
		default:
			c.fetch(">", del, false)
		}
		return c.at()
	}
	switch {
	case c.fresh() && c.i+1 < len(c.page):
		c.i++
	case c.fresh() && c.hiEnd:
		c.on = false
	default:
		c.fetch(">", c.page[c.i].k, false)
	}
	return c.at()
}

func (c *pgCursor) Prev() ([]byte, []byte) {
	if !c.on {
		return nil, nil
	}
	if del := c.deleted; del != nil {
		c.deleted = nil
		switch {
		case !c.fresh():
			c.fetch("<", del, true)
		case c.i > 0:
			c.i--
		case c.loEnd:
			c.on = false
		default:
			c.fetch("<", del, true)
		}
		return c.at()
	}
	switch {
	case c.fresh() && c.i > 0:
		c.i--
	case c.fresh() && c.loEnd:
		c.on = false
	default:
		c.fetch("<", c.page[c.i].k, true)
	}
	return c.at()
}

// Delete removes the key the cursor is on; Next then lands on the key after
// it, Prev on the key before.
func (c *pgCursor) Delete() error {
	if !c.on || c.deleted != nil {
		return errPGCursorNotOnKey
	}
	k := c.page[c.i].k
	stale := !c.fresh()
	if err := c.b.Delete(k); err != nil {
		return err
	}
	if stale {
		// The page is already out of date: the next step reads afresh
		// from the deleted key.
		c.deleted = k
		return nil
	}
	c.page = append(c.page[:c.i:c.i], c.page[c.i+1:]...)
	c.gen = c.b.tx.gen[c.b.path]
	c.deleted = k
	return nil
}

var _ kvEngine = (*pgEngine)(nil)
