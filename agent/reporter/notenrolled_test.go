package reporter

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/farmwatch/farmwatch/agent/spool"
	"github.com/farmwatch/farmwatch/agent/uplink"
	"github.com/farmwatch/farmwatch/internal/testcollector"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// A collector that does not know the device (it was deleted there, or the
// collector is of an older release than the store and reads devices where
// they no longer are) answers PERMISSION_DENIED: the agent keeps every
// spooled report for a later attempt and drops none.
func TestNotEnrolledKeepsTheSpool(t *testing.T) {
	c := testcollector.Start(t, nil)
	conn, err := uplink.Dial(c.UnknownDevice(t, "d-00000000deadbeef"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	sp, err := spool.Open(filepath.Join(t.TempDir(), "spool.db"), 100)
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	for range 3 {
		if err := sp.Add(&pb.Report{CollectedAt: timestamppb.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	r := &Reporter{Spool: sp, Conn: conn, Interval: time.Minute}
	for attempt := range 2 {
		err := r.Flush(context.Background())
		if status.Code(err) != codes.PermissionDenied {
			t.Fatalf("attempt %d: %v, want PERMISSION_DENIED", attempt, err)
		}
		if pending, err := sp.Pending(100); err != nil || len(pending) != 3 {
			t.Fatalf("attempt %d: %d reports left in the spool (%v), want all 3", attempt, len(pending), err)
		}
	}
}
