package reporter

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/farmwatch/farmwatch/agent/collect"
	"github.com/farmwatch/farmwatch/agent/spool"
	"github.com/farmwatch/farmwatch/agent/uplink"
	"github.com/farmwatch/farmwatch/internal/testcollector"
	"github.com/farmwatch/farmwatch/internal/testrelay"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// A report call on a connection whose path has died (the relay in front of
// the collector stops forwarding, and nothing closes) returns at its
// deadline instead of hanging; the report stays spooled, and the next
// delivery goes out on a new connection.
func TestDeadConnectionFailsAtDeadlineThenDelivers(t *testing.T) {
	c := testcollector.Start(t, nil)
	ctx := context.Background()
	id := enrollHire(t, c, &pb.Hire{Id: "h1", Name: "H", ClaimedHome: "Denver, CO, US"})
	path := testrelay.Start(t, c.Addr(), testrelay.Options{})
	id.Collector = path.Addr()
	sp, err := spool.Open(filepath.Join(t.TempDir(), "spool.db"), 100)
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	conn, err := uplink.Dial(id)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	const callTimeout = 2 * time.Second
	conn.CallTimeout = callTimeout
	r := &Reporter{Spool: sp, Conn: conn, Env: collect.HostEnv(), Interval: time.Minute}
	if err := r.Start(); err != nil {
		t.Fatal(err)
	}
	if err := r.Cycle(ctx); err != nil {
		t.Fatal(err)
	}

	path.Stall()
	start := time.Now()
	done := make(chan error, 1)
	go func() { done <- r.Cycle(ctx) }() // no deadline of the caller's
	select {
	case err = <-done:
	case <-time.After(90 * time.Second):
		t.Fatal("a report call on a dead connection still hangs after 90 s")
	}
	took := time.Since(start)
	if status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("cycle on a dead connection: %v, want the call's deadline exceeded", err)
	}
	t.Logf("cycle on a dead connection failed after %s (collection and a %s call deadline): %v", took.Round(time.Millisecond), callTimeout, err)
	if st, _ := sp.Stats(); st.Pending != 1 {
		t.Fatalf("%d reports spooled, want the undelivered one", st.Pending)
	}

	fctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := r.Flush(fctx); err != nil {
		t.Fatalf("the next delivery: %v", err)
	}
	if st, _ := sp.Stats(); st.Pending != 0 {
		t.Fatalf("%d reports still spooled after the next delivery", st.Pending)
	}
	rs, err := c.Admin.ListReports(ctx, &pb.ListReportsRequest{DeviceId: id.DeviceID, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(rs.GetReports()) != 2 {
		t.Fatalf("collector stored %d reports, want 2", len(rs.GetReports()))
	}
}
