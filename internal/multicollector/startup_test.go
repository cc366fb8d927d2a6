package multicollector_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/farmwatch/farmwatch/collector/adminconn"
	"github.com/farmwatch/farmwatch/collector/server"
	"github.com/farmwatch/farmwatch/collector/store"
	"github.com/farmwatch/farmwatch/internal/pgtest"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// Two collectors started at the same instant on an empty database: one
// applies the schema, the other finds it applied (or loses the race and
// looks again), and both serve the one store.
func TestTwoCollectorsStartOnAnEmptyDatabase(t *testing.T) {
	pg := pgtest.Shared(t)
	ca := newCA(t)
	for round := range 3 {
		url := pg.NewDatabase(t)
		var wg sync.WaitGroup
		gate := make(chan struct{})
		srvs := make([]*server.Server, 2)
		errs := make([]error, 2)
		took := make([]time.Duration, 2)
		dirs := []string{t.TempDir(), t.TempDir()}
		for i := range srvs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				cfg := server.Config{DataDir: dirs[i], Listen: "127.0.0.1:0"}
				collectorConfig(url, ca)(&cfg)
				<-gate
				start := time.Now()
				srvs[i], errs[i] = server.New(cfg)
				took[i] = time.Since(start)
			}()
		}
		close(gate)
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("round %d: collector %d did not start: %v", round, i, err)
			}
		}
		admins := make([]pb.AdminServiceClient, 2)
		for i, srv := range srvs {
			done := make(chan error, 1)
			go func() { done <- srv.Serve() }()
			t.Cleanup(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				srv.Stop(ctx)
				<-done
			})
			admin, closeAdmin, err := adminconn.Dial(adminconn.Options{Data: dirs[i]})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { closeAdmin() })
			admins[i] = admin
		}
		// Each serves the store the other writes.
		ctx := context.Background()
		for i, admin := range admins {
			id := fmt.Sprintf("h-%d", i)
			if _, err := admin.AddHires(ctx, &pb.AddHiresRequest{Hires: []*pb.Hire{{Id: id, Name: "H", ClaimedHome: "Denver, CO, US"}}}); err != nil {
				t.Fatalf("round %d: collector %d: add a hire: %v", round, i, err)
			}
			other := admins[1-i]
			if h, err := other.GetHire(ctx, &pb.GetHireRequest{Id: id}); err != nil || h.GetId() != id {
				t.Fatalf("round %d: collector %d does not see the hire collector %d added: %v %v", round, 1-i, i, h, err)
			}
		}
		rows, version := schemaRows(t, url)
		if want := int64(store.PostgresSchemaVersion()); rows != 1 || version != want {
			t.Fatalf("round %d: farmwatch_schema holds %d rows, version %d; want one row, version %d", round, rows, version, want)
		}
		t.Logf("round %d: both collectors up, in %s and %s", round, took[0].Round(time.Millisecond), took[1].Round(time.Millisecond))
	}
}

func schemaRows(t *testing.T, url string) (rows, version int64) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if err := conn.QueryRow(ctx, `SELECT count(*), coalesce(max(version), 0) FROM farmwatch_schema`).Scan(&rows, &version); err != nil {
		t.Fatal(err)
	}
	return rows, version
}
