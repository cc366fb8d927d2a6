package server_test

import (
	"context"
	"math"
	"testing"

	"google.golang.org/grpc/codes"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// F1: a laptop sends one report with seq 2^64-1. It is refused with a
// status that says why; the device's later genuine reports are stored and
// acknowledged as new, and still analysed: their evidence shows.
func TestHugeSeqRefusedAndAlertingGoesOn(t *testing.T) {
	c, conn, id := enrolled(t, nil)
	ctx := context.Background()
	const epoch = 0x3c0ffee
	send := func(r *pb.Report) (*pb.ReportResponse, error) {
		r.SpoolEpoch = epoch
		return conn.Send(ctx, []*pb.Report{r})
	}
	for seq := uint64(1); seq <= 2; seq++ {
		if _, err := send(report(seq)); err != nil {
			t.Fatal(err)
		}
	}
	_, err := send(report(math.MaxUint64))
	wantStatus(t, err, codes.InvalidArgument, "seq 18446744073709551615 of spool epoch 0000000003c0ffee is beyond 10003")

	// Report 3 carries a remote-access tool: its evidence must show.
	withTool := report(3)
	withTool.RemoteAccess = &pb.RemoteAccess{Tools: []*pb.ToolMatch{{ToolId: "anydesk", Name: "AnyDesk", Process: "AnyDesk"}}}
	resp, err := send(withTool)
	if err != nil || len(resp.GetAcknowledged()) != 1 || len(resp.GetDuplicates()) != 0 {
		t.Fatalf("genuine report 3 after the huge one: %v %v", resp, err)
	}
	d, err := c.Admin.GetDevice(ctx, &pb.GetDeviceRequest{Id: id.DeviceID})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range d.GetEvidence() {
		found = found || e.GetRule() == "rat.present"
	}
	if !found {
		t.Errorf("the report with AnyDesk after the huge seq left no rat.present evidence: %v", d.GetEvidence())
	}
	resp, err = send(report(4))
	if err != nil || len(resp.GetAcknowledged()) != 1 || len(resp.GetDuplicates()) != 0 {
		t.Fatalf("genuine report 4 after the huge one: %v %v", resp, err)
	}
	rs, err := c.Admin.ListReports(ctx, &pb.ListReportsRequest{DeviceId: id.DeviceID})
	if err != nil {
		t.Fatal(err)
	}
	var seqs []uint64
	for _, sr := range rs.GetReports() {
		seqs = append(seqs, sr.GetReport().GetSeq())
	}
	if len(seqs) != 4 || seqs[0] != 4 || seqs[3] != 1 {
		t.Fatalf("stored seqs %v, want 4 3 2 1", seqs)
	}
	d, err = c.Admin.GetDevice(ctx, &pb.GetDeviceRequest{Id: id.DeviceID})
	if err != nil {
		t.Fatal(err)
	}
	if dev := d.GetDevice(); dev.GetLastSeq() != 4 || dev.GetSpoolEpoch() != epoch || dev.GetSpoolGenerations() != 1 {
		t.Errorf("device: last seq %d, epoch %x, %d spools; want 4, %x, 1", dev.GetLastSeq(), dev.GetSpoolEpoch(), dev.GetSpoolGenerations(), epoch)
	}
}

// A report that differs from the stored one under the same (epoch, seq) is
// acknowledged as a duplicate, so the sending agent does not loop, and the
// stored report stays.
func TestDifferingDuplicateAcknowledged(t *testing.T) {
	c, conn, id := enrolled(t, nil)
	ctx := context.Background()
	first := report(1)
	first.SpoolEpoch = 7
	if _, err := conn.Send(ctx, []*pb.Report{first}); err != nil {
		t.Fatal(err)
	}
	other := report(1)
	other.SpoolEpoch = 7
	other.Host.Hostname = "second-machine"
	resp, err := conn.Send(ctx, []*pb.Report{other})
	if err != nil || len(resp.GetAcknowledged()) != 1 || len(resp.GetDuplicates()) != 1 {
		t.Fatalf("differing duplicate: %v %v", resp, err)
	}
	rs, _ := c.Admin.ListReports(ctx, &pb.ListReportsRequest{DeviceId: id.DeviceID})
	if len(rs.GetReports()) != 1 || rs.GetReports()[0].GetReport().GetHost().GetHostname() != "laptop" {
		t.Errorf("stored reports after a differing duplicate: %v", rs.GetReports())
	}
}
