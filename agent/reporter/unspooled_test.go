package reporter

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/farmwatch/farmwatch/agent/collect"
	"github.com/farmwatch/farmwatch/agent/spool"
	"github.com/farmwatch/farmwatch/agent/uplink"
	"github.com/farmwatch/farmwatch/internal/testcollector"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// fullDisk is a real spool whose writes fail as on a full disk while full
// is set: bbolt's write of the new pages returns ENOSPC.
type fullDisk struct {
	*spool.Spool
	full bool
}

func (f *fullDisk) Add(r *pb.Report) error {
	if f.full {
		return fmt.Errorf("write spool: %w", syscall.ENOSPC)
	}
	return f.Spool.Add(r)
}

// Reports the agent took while its disk was full are counted and the count
// reaches the collector with the next report it can deliver; what was
// already spooled is still delivered meanwhile.
func TestUnspooledReportsCounted(t *testing.T) {
	c := testcollector.Start(t, nil)
	ctx := context.Background()
	id := enrollHire(t, c, &pb.Hire{Id: "h1", Name: "H", ClaimedHome: "Denver, CO, US"})
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
	disk := &fullDisk{Spool: sp}
	r := &Reporter{Spool: disk, Conn: conn, Env: collect.HostEnv(), Interval: time.Minute}
	if err := r.Start(); err != nil {
		t.Fatal(err)
	}

	disk.full = true
	for i := range 2 {
		if err := r.Cycle(ctx); !errors.Is(err, syscall.ENOSPC) {
			t.Fatalf("cycle %d on a full disk: %v, want ENOSPC", i, err)
		}
	}
	disk.full = false
	for range 2 {
		if err := r.Cycle(ctx); err != nil {
			t.Fatal(err)
		}
	}
	rs, err := c.Admin.ListReports(ctx, &pb.ListReportsRequest{DeviceId: id.DeviceID})
	if err != nil {
		t.Fatal(err)
	}
	if len(rs.GetReports()) != 2 {
		t.Fatalf("%d reports stored, want the 2 spooled", len(rs.GetReports()))
	}
	for _, sr := range rs.GetReports() {
		if got := sr.GetReport().GetHealth().GetUnspooled(); got != 2 {
			t.Errorf("report %d says %d unspooled, want 2", sr.GetReport().GetSeq(), got)
		}
	}
}
