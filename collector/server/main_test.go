package server_test

import (
	"testing"

	"github.com/farmwatch/farmwatch/internal/pgtest"
)

// With FARMWATCH_TEST_STORE=postgres the test collectors keep their stores
// in a shared throw-away PostgreSQL cluster (internal/testcollector), which
// Main removes at the end.
func TestMain(m *testing.M) { pgtest.Main(m) }
