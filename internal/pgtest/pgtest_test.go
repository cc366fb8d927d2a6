package pgtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) { Main(m) }

func query(t *testing.T, url, sql string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	var s string
	err = conn.QueryRow(ctx, sql).Scan(&s)
	return s, err
}

// A cluster of its own survives Stop/Start and Kill/Start with its data
// and port, and refuses connections while stopped.
func TestStopKillStart(t *testing.T) {
	c := Start(t)
	url := c.NewDatabase(t)
	if err := c.Exec(context.Background(), dbName(url), "CREATE TABLE t (v TEXT); INSERT INTO t VALUES ('kept')"); err != nil {
		t.Fatal(err)
	}
	if fsync, err := query(t, url, "SHOW fsync"); err != nil || fsync != "on" {
		t.Fatalf("fsync = %q, %v; want on by default", fsync, err)
	}
	if user, err := query(t, url, "SELECT current_user"); err != nil || user != User {
		t.Fatalf("current_user = %q, %v", user, err)
	}
	for _, halt := range []struct {
		name string
		fn   func() error
	}{{"Stop", c.Stop}, {"Kill", c.Kill}} {
		if err := halt.fn(); err != nil {
			t.Fatalf("%s: %v", halt.name, err)
		}
		if _, err := query(t, url, "SELECT 'x'"); err == nil {
			t.Fatalf("after %s the server still answers", halt.name)
		}
		if err := c.Start(); err != nil {
			t.Fatalf("Start after %s: %v", halt.name, err)
		}
		if v, err := query(t, url, "SELECT v FROM t"); err != nil || v != "kept" {
			t.Fatalf("after %s and Start: %q, %v", halt.name, v, err)
		}
	}
	if err := c.Start(); err == nil {
		t.Fatal("Start of a running server succeeded")
	}
}

func dbName(url string) string {
	s := url[strings.LastIndex(url, "/")+1:]
	return s[:strings.Index(s, "?")]
}

// Databases of the shared cluster are separate, and the server runs with
// the requested settings.
func TestSharedDatabasesIsolated(t *testing.T) {
	c := Shared(t)
	if Shared(t) != c {
		t.Fatal("Shared started a second cluster")
	}
	a, b := c.NewDatabase(t), c.NewDatabase(t)
	if a == b {
		t.Fatalf("NewDatabase returned %s twice", a)
	}
	if err := c.Exec(context.Background(), dbName(a), "CREATE TABLE only_here (v INT)"); err != nil {
		t.Fatal(err)
	}
	if _, err := query(t, b, "SELECT count(*)::text FROM only_here"); err == nil {
		t.Fatal("a table of one database is visible in the other")
	}
	if n, err := query(t, a, "SELECT count(*)::text FROM only_here"); err != nil || n != "0" {
		t.Fatalf("count = %q, %v", n, err)
	}
}

func TestWrongPasswordRefused(t *testing.T) {
	c := Shared(t)
	url := strings.Replace(c.NewDatabase(t), ":"+c.Password()+"@", ":wrong@", 1)
	if _, err := query(t, url, "SELECT 'x'"); err == nil || !strings.Contains(err.Error(), "password authentication failed") {
		t.Fatalf("wrong password: %v", err)
	}
}

func TestWithoutFsyncAndSetting(t *testing.T) {
	c := Start(t, WithoutFsync(), Setting("work_mem", "'8MB'"))
	url := c.NewDatabase(t)
	if v, err := query(t, url, "SHOW fsync"); err != nil || v != "off" {
		t.Fatalf("fsync = %q, %v", v, err)
	}
	if v, err := query(t, url, "SHOW work_mem"); err != nil || v != "8MB" {
		t.Fatalf("work_mem = %q, %v", v, err)
	}
}

// A server that cannot start reports why, with the end of its log.
func TestStartFailureShowsLog(t *testing.T) {
	c := Start(t)
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(filepath.Join(c.dataDir(), "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(f, "no_such_setting_here = 1")
	f.Close()
	err = c.Start()
	if err == nil || !strings.Contains(err.Error(), "no_such_setting_here") || !strings.Contains(err.Error(), "server.log") {
		t.Fatalf("Start with a broken configuration: %v", err)
	}
}

// recordTB records what unavailable asks of the test instead of stopping it.
type recordTB struct {
	testing.TB
	skipped, failed string
}

func (r *recordTB) Helper()                        {}
func (r *recordTB) Skipf(format string, a ...any)  { r.skipped = fmt.Sprintf(format, a...) }
func (r *recordTB) Fatalf(format string, a ...any) { r.failed = fmt.Sprintf(format, a...) }

// Without binaries a test skips, naming the package to install, except on
// CI, where it fails.
func TestMissingBinaries(t *testing.T) {
	t.Setenv("FARMWATCH_PG_BIN", t.TempDir())
	_, err := findBin()
	if !errors.Is(err, errNoBinaries) || !strings.Contains(err.Error(), "FARMWATCH_PG_BIN") {
		t.Fatalf("findBin with an empty FARMWATCH_PG_BIN: %v", err)
	}
	t.Setenv("FARMWATCH_CI", "")
	r := &recordTB{TB: t}
	Start(r)
	if r.failed != "" || !strings.Contains(r.skipped, "postgresql") {
		t.Fatalf("without CI: skipped %q, failed %q", r.skipped, r.failed)
	}
	t.Setenv("FARMWATCH_CI", "1")
	r = &recordTB{TB: t}
	Start(r)
	if r.skipped != "" || !strings.Contains(r.failed, "FARMWATCH_CI") {
		t.Fatalf("on CI: skipped %q, failed %q", r.skipped, r.failed)
	}
}

// The directory of a cluster whose test binary died is removed by the next
// start; a live owner's is kept.
func TestRemoveStale(t *testing.T) {
	dead, err := os.MkdirTemp("", dirPrefix)
	if err != nil {
		t.Fatal(err)
	}
	live, err := os.MkdirTemp("", dirPrefix)
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(live)
	defer os.RemoveAll(dead)
	os.WriteFile(filepath.Join(dead, "owner.pid"), []byte("2147483600"), 0o644)
	os.WriteFile(filepath.Join(live, "owner.pid"), []byte(fmt.Sprint(os.Getpid())), 0o644)
	removeStale()
	if _, err := os.Stat(dead); !os.IsNotExist(err) {
		t.Fatalf("the dead owner's directory is still there: %v", err)
	}
	if _, err := os.Stat(live); err != nil {
		t.Fatalf("the live owner's directory was removed: %v", err)
	}
}
