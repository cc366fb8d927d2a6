// Package pgtest runs throw-away PostgreSQL clusters for tests (set up by
// internal/pgcluster): initdb in a temporary directory, the server on a free
// loopback port, a password role, and a fresh database per test so that
// tests sharing one cluster stay isolated.
//
// The binaries come from $FARMWATCH_PG_BIN, else the newest Debian
// /usr/lib/postgresql/<version>/bin, else PATH. Without them a test skips,
// except on CI (FARMWATCH_CI set), where it fails: scripts/ci-packages.sh
// installs Debian's postgresql.
//
// The server is the test binary's child (not a pg_ctl daemon), so it dies
// with the test binary even when a timeout kills it.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/farmwatch/farmwatch/internal/pgcluster"
)

// User is the role the tests connect as, a superuser with a password.
const User = pgcluster.User

// Option changes how a cluster is set up.
type Option = pgcluster.Option

// WithoutFsync turns fsync off. Only for tests whose subject is not
// durability: a cluster without fsync may lose committed data in a power
// cut, which the other tests of this package must not hide.
func WithoutFsync() Option { return pgcluster.WithoutFsync() }

// Setting sets a server configuration parameter, value written as in
// postgresql.conf (strings quoted: Setting("work_mem", "'8MB'")).
func Setting(name, value string) Option { return pgcluster.Setting(name, value) }

// Cluster is one running (or stopped) PostgreSQL cluster; the methods of
// pgcluster.Cluster (Start, Stop, Kill, URL, Exec, LogTail...) apply.
type Cluster struct {
	*pgcluster.Cluster
	dbs atomic.Int64
}

// Start sets up a cluster for this test alone and starts it; the cluster
// is stopped and removed when the test ends.
func Start(t testing.TB, opts ...Option) *Cluster {
	t.Helper()
	c, err := pgcluster.New(opts...)
	if err != nil {
		unavailable(t, err)
		return nil
	}
	t.Cleanup(c.Remove)
	return &Cluster{Cluster: c}
}

var shared struct {
	once sync.Once
	c    *Cluster
	err  error
}

// Shared returns the test binary's shared cluster, started at the first
// call (with fsync on). Tests that use it must take a database of their own
// with NewDatabase. The cluster stops when the test binary exits: Main
// removes its directory too; without Main the next cluster started on the
// machine removes it.
func Shared(t testing.TB) *Cluster {
	t.Helper()
	shared.once.Do(func() {
		var c *pgcluster.Cluster
		if c, shared.err = pgcluster.New(); shared.err == nil {
			shared.c = &Cluster{Cluster: c}
		}
	})
	if shared.err != nil {
		unavailable(t, shared.err)
		return nil
	}
	return shared.c
}

// Main runs the tests and then stops and removes the shared cluster. Call
// it from TestMain: func TestMain(m *testing.M) { pgtest.Main(m) }.
func Main(m *testing.M) {
	code := m.Run()
	if shared.c != nil {
		shared.c.Remove()
	}
	os.Exit(code)
}

// unavailable skips the test when PostgreSQL is not installed, except on CI,
// where a missing server must not pass silently; any other error fails.
func unavailable(t testing.TB, err error) {
	t.Helper()
	if !errors.Is(err, pgcluster.ErrNoBinaries) {
		t.Fatalf("pgtest: %v", err)
		return
	}
	if os.Getenv("FARMWATCH_CI") != "" {
		t.Fatalf("%v and FARMWATCH_CI is set: run scripts/ci-packages.sh (Debian package postgresql)", err)
		return
	}
	t.Skipf("%v (scripts/ci-packages.sh installs the Debian package postgresql): skipping the PostgreSQL test", err)
}

// NewDatabase creates an empty database of its own for the test and returns
// its URL.
func (c *Cluster) NewDatabase(t testing.TB) string {
	t.Helper()
	b := make([]byte, 3)
	rand.Read(b)
	url, err := c.CreateDatabase(context.Background(), fmt.Sprintf("test_%d_%s", c.dbs.Add(1), hex.EncodeToString(b)))
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	return url
}
