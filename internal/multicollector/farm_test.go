package multicollector_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/farmwatch/farmwatch/internal/pgtest"
	"github.com/farmwatch/farmwatch/internal/testcollector"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
	"github.com/farmwatch/farmwatch/sim"
)

// A farm whose laptops report to different collectors is one farm: half
// its members deliver to A, half to B, and both collectors show one farm
// alert naming every member, with the cluster one collector would record
// (router, Wi-Fi, two neighbouring networks, public IP). A watch on either
// collector sees the alert open, whichever committed it, and sees the
// acknowledgement made through A alone.
func TestFarmAcrossCollectorsIsOneAlert(t *testing.T) {
	url := pgtest.Shared(t).NewDatabase(t)
	ca := newCA(t)
	a, b := startCollector(t, url, ca), startCollector(t, url, ca)
	ctx := context.Background()
	fp, err := a.Options().CAFingerprint()
	if err != nil {
		t.Fatal(err)
	}
	fleet := sim.Plan(40, 5) // a farm of 4 among honest hires
	defer fleet.Close()
	if err := fleet.Register(ctx, a.Admin); err != nil {
		t.Fatal(err)
	}
	var farm []*sim.Device
	onA, onB := &sim.Fleet{}, &sim.Fleet{}
	for i, d := range fleet.Devices {
		if d.Scenario == sim.Farm {
			farm = append(farm, d)
			i = len(farm) - 1
		}
		if i%2 == 0 {
			onA.Devices = append(onA.Devices, d)
		} else {
			onB.Devices = append(onB.Devices, d)
		}
	}
	if len(farm) < 4 {
		t.Fatalf("the plan holds a farm of %d, want at least 4", len(farm))
	}
	// Tokens were made on A; half the devices enroll through B with them.
	if err := onA.Enroll(ctx, a.Addr(), fp, 4); err != nil {
		t.Fatal(err)
	}
	if err := onB.Enroll(ctx, b.Addr(), fp, 4); err != nil {
		t.Fatal(err)
	}

	// A watch on each collector, from now.
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	opened := map[*testcollector.Collector]chan *pb.AlertEvent{}
	for _, c := range []*testcollector.Collector{a, b} {
		stream, err := c.Admin.WatchAlerts(wctx, &pb.WatchAlertsRequest{Kinds: []string{"farm"}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := stream.Header(); err != nil {
			t.Fatal(err)
		}
		ch := make(chan *pb.AlertEvent, 64)
		opened[c] = ch
		go func() {
			for {
				ev, err := stream.Recv()
				if err != nil {
					return
				}
				if ev.GetType() == "opened" || ev.GetType() == "acknowledged" {
					ch <- ev
				}
			}
		}()
	}

	now := time.Now()
	for seq := uint64(1); seq <= 2; seq++ {
		for _, d := range fleet.Devices {
			if _, err := d.Send(ctx, []*pb.Report{d.Report(seq, now, 0)}); err != nil {
				t.Fatalf("device %s: %v", d.ID(), err)
			}
		}
	}

	var want []string
	for _, d := range farm {
		want = append(want, d.ID())
	}
	slices.Sort(want)
	var id string
	for _, c := range []*testcollector.Collector{a, b} {
		resp, err := c.Admin.ListAlerts(ctx, &pb.ListAlertsRequest{})
		if err != nil {
			t.Fatal(err)
		}
		var farms []*pb.Alert
		for _, al := range resp.GetAlerts() {
			if al.GetKind() == "farm" {
				farms = append(farms, al)
			}
		}
		if len(farms) != 1 {
			t.Fatalf("%s shows %d farm alerts, want one: %v", c.Addr(), len(farms), farms)
		}
		got := slices.Clone(farms[0].GetMemberDevices())
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Fatalf("%s: the farm alert names %v, want every member %v", c.Addr(), got, want)
		}
		if id != "" && farms[0].GetId() != id {
			t.Fatalf("the collectors show different farm alerts: %s and %s", id, farms[0].GetId())
		}
		id = farms[0].GetId()
		cl, err := c.Admin.GetCluster(ctx, &pb.GetClusterRequest{Id: farms[0].GetClusterId()})
		if err != nil || !cl.GetFarm() || len(cl.GetMembers()) != len(farm) || len(cl.GetFingerprints()) != 5 {
			t.Fatalf("%s: cluster %v %v", c.Addr(), cl, err)
		}
	}
	expect := func(c *testcollector.Collector, typ string) time.Duration {
		t.Helper()
		start := time.Now()
		select {
		case ev := <-opened[c]:
			if ev.GetType() != typ || ev.GetAlert().GetId() != id {
				t.Errorf("the watch on %s saw %s %s, want %s %s", c.Addr(), ev.GetType(), ev.GetAlert().GetId(), typ, id)
			}
		case <-time.After(5 * time.Second):
			t.Errorf("the watch on %s did not see the farm alert %s", c.Addr(), typ)
		}
		return time.Since(start)
	}
	expect(a, "opened")
	expect(b, "opened")
	// Only A commits this change: B's watch learns of it from the store.
	if _, err := a.Admin.AckAlert(ctx, &pb.AckAlertRequest{Id: id, Note: "calling the hiring managers"}); err != nil {
		t.Fatal(err)
	}
	expect(a, "acknowledged")
	seen := expect(b, "acknowledged")
	t.Logf("the watch on B saw the acknowledgement made on A within %s", seen.Round(time.Millisecond))
	t.Logf("farm of %d (%d members on A, %d on B): one farm alert %s on both collectors, seen opening by both watches",
		len(farm), (len(farm)+1)/2, len(farm)/2, id)
}
