package server_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/farmwatch/farmwatch/collector/server"
	"github.com/farmwatch/farmwatch/internal/reportlimit"
	"github.com/farmwatch/farmwatch/internal/testcollector"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// junkReport is a report as large as the limits let a laptop make one,
// within every field's limit, of random letters that compression cannot
// shrink: neighbours with 1,000-byte interface names.
func junkReport(seq uint64, at time.Time, neighbours int) *pb.Report {
	r := report(seq)
	r.CollectedAt = timestamppb.New(at)
	rng := rand.New(rand.NewPCG(seq, 99))
	name := make([]byte, 1000)
	for i := 0; i < neighbours; i++ {
		for j := range name {
			name[j] = byte('a' + rng.IntN(26))
		}
		r.Network.Neighbors = append(r.Network.Neighbors, &pb.Neighbor{Ip: fmt.Sprintf("10.0.%d.%d", i/250, i%250+1),
			Mac: "02:00:00:00:00:01", Interface: string(name)})
	}
	return r
}

// storeUsed is the part of the bbolt file in use (its high-water mark),
// or on PostgreSQL the bytes of the store's keys and values.
func storeUsed(t *testing.T, c *testcollector.Collector) int64 {
	t.Helper()
	db := c.Store().DB()
	if db == nil {
		return storeBytes(t, c) // PostgreSQL: what its keys and values take
	}
	var n int64
	if err := db.View(func(tx *bolt.Tx) error { n = tx.Size(); return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

// storeFileSize is the size of the bbolt file, 0 on PostgreSQL, whose files
// are the database's.
func storeFileSize(t *testing.T, c *testcollector.Collector) int64 {
	t.Helper()
	if db := c.Store().DB(); db != nil {
		return fileSize(t, db.Path())
	}
	return 0
}

// TestLaptopCannotGrowStorePastBudget: an enrolled laptop, over real mutual
// TLS, sends 4 MB reports (refused: over the report cap), then the largest
// reports the limits allow, between honest ones, as fast as it can. The
// store grows by its daily budget and a small overhead, no more; honest
// reports are taken until the budget is spent, then refused with
// ResourceExhausted saying the budget and when it resets, and taken again
// the next UTC day.
//
// The overhead, measured on the file's high-water mark (what bbolt has
// used): each report takes whole 4 KiB pages, a large one a contiguous run
// of them that the free list cannot always supply from freed pages, and the
// index and branch pages come on top; an eighth of the budget and 1 MiB
// bound it (five runs measured 3.0 to 5.9 %). The file itself runs ahead of
// that by bbolt's growth step, at most 16 MiB per store, not per device.
func TestLaptopCannotGrowStorePastBudget(t *testing.T) {
	const budget = 16 << 20
	var offset atomic.Int64 // the collector's clock runs offset ahead of real time
	clock := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	c, conn, id := enrolled(t, func(cfg *server.Config) {
		cfg.DeviceDailyBudget = budget
		cfg.Now = clock
		cfg.RateLimits = server.DefaultRateLimits()
		cfg.RateLimits.DeviceRate = 1000 // this test is about bytes, not calls
	})
	ctx := context.Background()
	seq := uint64(0)
	send := func(r *pb.Report) error {
		_, err := conn.Send(ctx, []*pb.Report{r})
		return err
	}

	// 4 MB: refused whole, before anything is stored.
	seq++
	huge := junkReport(seq, clock(), 3900)
	if n := proto.Size(&pb.ReportRequest{Reports: []*pb.Report{huge}}); n < 3900<<10 || n > 4<<20 {
		t.Fatalf("the 4 MB report is %d bytes", n)
	}
	wantStatus(t, send(huge), codes.InvalidArgument, fmt.Sprintf("report: %d bytes, limit %d", proto.Size(huge), reportlimit.MaxReportBytes))

	usedBefore, fileBefore := storeUsed(t, c), storeFileSize(t, c)
	honest, junk := 0, 0
	var refusal error
	for sent := 0; refusal == nil && sent < 3*budget; {
		seq++
		if err := send(report(seq)); err != nil {
			refusal = err
			break
		}
		honest++
		seq++
		r := junkReport(seq, clock(), 240)
		if err := send(r); err != nil {
			refusal = err
			break
		}
		junk++
		sent += proto.Size(r)
	}
	if refusal == nil {
		t.Fatalf("%d junk reports (%d bytes) taken without a refusal", junk, junk*proto.Size(junkReport(1, clock(), 240)))
	}
	day := clock().UTC().Format(time.DateOnly)
	reset := clock().UTC().Truncate(24 * time.Hour).Add(24 * time.Hour).Format(time.RFC3339)
	wantStatus(t, refusal, codes.ResourceExhausted, fmt.Sprintf("daily budget of %d bytes of reports for %s (UTC); reports are accepted again from %s", budget, day, reset))
	// Spent: an honest report is refused too, until the day ends.
	seq++
	wantStatus(t, send(report(seq)), codes.ResourceExhausted, "daily budget")

	used, file := storeUsed(t, c)-usedBefore, storeFileSize(t, c)-fileBefore
	t.Logf("budget %d bytes: %d honest and %d junk reports taken; store in use grew %d bytes, file %d bytes",
		budget, honest, junk, used, file)
	if junk < 50 {
		t.Errorf("only %d junk reports of %d bytes fit a %d-byte budget", junk, proto.Size(junkReport(1, clock(), 240)), budget)
	}
	const maxUsed = budget + budget/8 + 1<<20
	if used > maxUsed {
		t.Errorf("store in use grew by %d bytes, past the budget %d, an eighth and 1 MiB", used, budget)
	}
	if file > maxUsed+16<<20 {
		t.Errorf("store file grew by %d bytes, past %d and bbolt's 16 MiB growth step", file, maxUsed)
	}
	d, err := c.Admin.GetDevice(ctx, &pb.GetDeviceRequest{Id: id.DeviceID})
	if err != nil {
		t.Fatal(err)
	}
	if dev := d.GetDevice(); dev.GetBudgetDay() != day || dev.GetBudgetBytes() != budget || dev.GetRefusedOverBudget() != 2 {
		t.Errorf("device budget %s %d refused %d; want %s, %d, 2", dev.GetBudgetDay(), dev.GetBudgetBytes(), dev.GetRefusedOverBudget(), day, budget)
	}

	// The next UTC day the laptop reports again.
	offset.Store(int64(24 * time.Hour))
	for range 3 {
		seq++
		if err := send(report(seq)); err != nil {
			t.Fatalf("honest report the next day: %v", err)
		}
	}
}
