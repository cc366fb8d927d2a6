// Package pgcluster runs throw-away PostgreSQL clusters: initdb in a
// temporary directory, the server on a free loopback port and a password
// role. Tests use it through internal/pgtest; the benchmark tool starts one
// to measure the collector on PostgreSQL.
//
// The binaries come from $FARMWATCH_PG_BIN, else the newest Debian
// /usr/lib/postgresql/<version>/bin, else PATH; without them New fails with
// an error wrapping ErrNoBinaries.
//
// The server is the calling program's child (not a pg_ctl daemon), so it
// dies with the program even when a timeout kills it.
package pgcluster

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// User is the role clients connect as, a superuser with a password.
const User = "farmwatch"

// DirPrefix names the cluster directories in the system temporary
// directory (not a test's t.TempDir, whose parent is private to the
// caller's user and so unreachable for the account the server runs as).
const DirPrefix = "farmwatch-pgcluster-"

// Option changes how a cluster is set up.
type Option func(*options)

type options struct {
	settings map[string]string
}

// WithoutFsync turns fsync off. Only for tests whose subject is not
// durability: a cluster without fsync may lose committed data in a power
// cut. Without this option fsync is on, as on a production server.
func WithoutFsync() Option { return Setting("fsync", "off") }

// Setting sets a server configuration parameter, value written as in
// postgresql.conf (strings quoted: Setting("work_mem", "'8MB'")).
func Setting(name, value string) Option {
	return func(o *options) { o.settings[name] = value }
}

// Cluster is one running (or stopped) PostgreSQL cluster.
type Cluster struct {
	dir      string // owned by the server's account
	bin      string
	port     int
	password string
	acct     account

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
}

// ErrNoBinaries marks a machine without PostgreSQL: tests skip, the
// benchmark leaves its PostgreSQL rows out.
var ErrNoBinaries = errors.New("PostgreSQL is not installed")

// FindBin finds the directory of initdb and postgres.
func FindBin() (string, error) {
	has := func(dir string) bool {
		for _, name := range []string{"initdb", "postgres"} {
			if st, err := os.Stat(filepath.Join(dir, name)); err != nil || st.IsDir() {
				return false
			}
		}
		return true
	}
	if dir := os.Getenv("FARMWATCH_PG_BIN"); dir != "" {
		if !has(dir) {
			return "", fmt.Errorf("%w: FARMWATCH_PG_BIN=%s holds no initdb and postgres", ErrNoBinaries, dir)
		}
		return dir, nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return pgVersion(dirs[i]) > pgVersion(dirs[j]) })
	for _, dir := range dirs {
		if has(dir) {
			return dir, nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil && has(filepath.Dir(p)) {
		return filepath.Dir(p), nil
	}
	return "", fmt.Errorf("%w: no initdb and postgres in FARMWATCH_PG_BIN, /usr/lib/postgresql/*/bin or PATH", ErrNoBinaries)
}

// pgVersion reads the major version from /usr/lib/postgresql/<v>/bin.
func pgVersion(bin string) float64 {
	v, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(bin)), 64)
	return v
}

// New sets up a cluster in a new temporary directory and starts it. The
// caller removes it with Remove.
func New(opts ...Option) (*Cluster, error) {
	o := options{settings: map[string]string{}}
	for _, opt := range opts {
		opt(&o)
	}
	bin, err := FindBin()
	if err != nil {
		return nil, err
	}
	acct, err := serverAccount()
	if err != nil {
		return nil, err
	}
	RemoveStale()
	dir, err := os.MkdirTemp("", DirPrefix)
	if err != nil {
		return nil, err
	}
	c := &Cluster{dir: dir, bin: bin, acct: acct, password: randomHex(12)}
	if err := c.setUp(o); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := c.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return c, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// RemoveStale removes the directories of clusters whose program has
// exited without removing them (its server died with it).
func RemoveStale() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), DirPrefix+"*"))
	for _, dir := range dirs {
		b, err := os.ReadFile(filepath.Join(dir, "owner.pid"))
		if err != nil {
			continue // being set up, or not ours
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || processAlive(pid) {
			continue
		}
		os.RemoveAll(dir)
	}
}

// setUp runs initdb and writes the server's settings.
func (c *Cluster) setUp(o options) error {
	if err := os.WriteFile(filepath.Join(c.dir, "owner.pid"), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return err
	}
	pwfile := filepath.Join(c.dir, "pwfile")
	if err := os.WriteFile(pwfile, []byte(c.password+"\n"), 0o600); err != nil {
		return err
	}
	for _, p := range []string{c.dir, pwfile} {
		if err := c.acct.chown(p); err != nil {
			return err
		}
	}
	out, err := c.run("initdb", "-D", c.DataDir(), "-U", User, "--pwfile", pwfile,
		"--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions")
	if err != nil {
		return fmt.Errorf("initdb: %v\n%s", err, out)
	}
	os.Remove(pwfile)
	port, err := freePort()
	if err != nil {
		return err
	}
	c.port = port
	settings := map[string]string{
		"listen_addresses":        "'127.0.0.1'",
		"port":                    strconv.Itoa(port),
		"unix_socket_directories": "'" + c.dir + "'",
		"max_connections":         "60",
		"shared_buffers":          "32MB",
		"logging_collector":       "off",
		"log_min_messages":        "warning",
	}
	for k, v := range o.settings {
		settings[k] = v
	}
	var conf strings.Builder
	conf.WriteString("\n# pgcluster\n")
	keys := make([]string, 0, len(settings))
	for k := range settings {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&conf, "%s = %s\n", k, settings[k])
	}
	f, err := os.OpenFile(filepath.Join(c.DataDir(), "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(conf.String())
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// run runs one of the PostgreSQL binaries as the server's account.
func (c *Cluster) run(name string, args ...string) ([]byte, error) {
	cmd := exec.Command(filepath.Join(c.bin, name), args...)
	cmd.Dir = c.dir
	cmd.Env = c.env()
	cmd.SysProcAttr = c.acct.sysProcAttr(false)
	return cmd.CombinedOutput()
}

// env drops the caller's PG* variables, which would redirect the binaries.
func (c *Cluster) env() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PG") && !strings.HasPrefix(kv, "LC_") && !strings.HasPrefix(kv, "LANG=") {
			env = append(env, kv)
		}
	}
	return append(env, "LANG=C", "TZ=UTC")
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// DataDir is the cluster's data directory (PGDATA).
func (c *Cluster) DataDir() string { return filepath.Join(c.dir, "data") }

// LogFile is the server's log.
func (c *Cluster) LogFile() string { return filepath.Join(c.dir, "server.log") }

// Dir is the cluster's directory (data/, server.log, the unix socket).
func (c *Cluster) Dir() string { return c.dir }

// Port is the TCP port on 127.0.0.1.
func (c *Cluster) Port() int { return c.port }

// Password is the password of User.
func (c *Cluster) Password() string { return c.password }

// URL is the postgres:// URL of database db on this cluster.
func (c *Cluster) URL(db string) string {
	u := url.URL{Scheme: "postgres", User: url.UserPassword(User, c.password),
		Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(c.port)), Path: "/" + db, RawQuery: "sslmode=disable"}
	return u.String()
}

// Start starts the server (again, after Stop or Kill: same port, same
// data) and waits until it accepts connections.
func (c *Cluster) Start() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cmd != nil {
		return errors.New("pgcluster: the server is already running")
	}
	logf, err := os.OpenFile(c.LogFile(), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(filepath.Join(c.bin, "postgres"), "-D", c.DataDir())
	cmd.Dir = c.dir
	cmd.Env = c.env()
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = c.acct.sysProcAttr(true)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("pgcluster: start postgres: %v", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	deadline := time.After(60 * time.Second)
	for {
		if c.ready() {
			c.cmd, c.done = cmd, done
			return nil
		}
		select {
		case <-done:
			return fmt.Errorf("pgcluster: postgres exited at start (%v); the end of %s:\n%s", cmd.ProcessState, c.LogFile(), c.LogTail(30))
		case <-deadline:
			cmd.Process.Signal(sigImmediate)
			<-done
			return fmt.Errorf("pgcluster: postgres did not accept connections within 60s; the end of %s:\n%s", c.LogFile(), c.LogTail(30))
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// ready reads the server's state from postmaster.pid, as pg_ctl -w does:
// its eighth line says "ready" once connections are accepted.
func (c *Cluster) ready() bool {
	b, err := os.ReadFile(filepath.Join(c.DataDir(), "postmaster.pid"))
	if err != nil {
		return false
	}
	lines := strings.Split(string(b), "\n")
	return len(lines) >= 8 && strings.TrimSpace(lines[7]) == "ready"
}

// Stop shuts the server down (fast mode: sessions are disconnected, open
// transactions roll back) and waits for it to exit.
func (c *Cluster) Stop() error { return c.halt(sigFast) }

// Kill stops the server in immediate mode, as a crash would: no checkpoint,
// connections cut; the next Start runs crash recovery.
func (c *Cluster) Kill() error { return c.halt(sigImmediate) }

func (c *Cluster) halt(sig os.Signal) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cmd == nil {
		return nil
	}
	if err := c.cmd.Process.Signal(sig); err != nil {
		return err
	}
	select {
	case <-c.done:
	case <-time.After(60 * time.Second):
		c.cmd.Process.Kill()
		<-c.done
		return fmt.Errorf("pgcluster: postgres did not stop within 60s; the end of %s:\n%s", c.LogFile(), c.LogTail(30))
	}
	c.cmd, c.done = nil, nil
	return nil
}

// Remove stops the server at once and removes the cluster's directory.
func (c *Cluster) Remove() {
	c.Kill()
	os.RemoveAll(c.dir)
}

// LogTail returns the last n lines of the server's log.
func (c *Cluster) LogTail(n int) string {
	f, err := os.Open(c.LogFile())
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	defer f.Close()
	var lines []string
	s := bufio.NewScanner(f)
	for s.Scan() {
		lines = append(lines, s.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return strings.Join(lines, "\n")
}

// CreateDatabase creates an empty database and returns its URL.
func (c *Cluster) CreateDatabase(ctx context.Context, name string) (string, error) {
	if err := c.Exec(ctx, "postgres", "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", err
	}
	return c.URL(name), nil
}

// Exec runs SQL as User in database db, on a connection of its own.
func (c *Cluster) Exec(ctx context.Context, db, sql string, args ...any) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.URL(db))
	if err != nil {
		return fmt.Errorf("connect to %s: %v", db, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		return fmt.Errorf("%s: %v", sql, err)
	}
	return nil
}
