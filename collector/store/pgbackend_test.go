package store

import (
	"context"
	"os"
	"sync"
	"testing"

	"github.com/farmwatch/farmwatch/internal/pgtest"
)

// With FARMWATCH_TEST_STORE=postgres every store test runs on PostgreSQL
// (`make test` runs the package both ways): the store tests are the
// conformance suite of the two backends.
func TestMain(m *testing.M) {
	if os.Getenv("FARMWATCH_TEST_STORE") == "postgres" {
		testBackend = openPGTest
	}
	pgtest.Main(m)
}

// pgTestDBs maps a test's store dir to its database, so that a test that
// closes and reopens a dir finds its data again.
var pgTestDBs sync.Map

func openPGTest(t testing.TB, dir string, opts Options) *Store {
	t.Helper()
	url, ok := pgTestDBs.Load(dir)
	if !ok {
		url, _ = pgTestDBs.LoadOrStore(dir, pgtest.Shared(t).NewDatabase(t))
	}
	s, err := OpenPostgres(context.Background(), url.(string), opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
