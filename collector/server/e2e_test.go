package server_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/farmwatch/farmwatch/agent/collect"
	"github.com/farmwatch/farmwatch/agent/reporter"
	"github.com/farmwatch/farmwatch/agent/spool"
	"github.com/farmwatch/farmwatch/agent/uplink"
	"github.com/farmwatch/farmwatch/internal/testcollector"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
	"github.com/farmwatch/farmwatch/sim"
)

// TestEndToEnd runs a real collector on a loopback port, the real agent code
// for one cycle against it, and a simulated fleet, then reads everything
// back through the admin API.
func TestEndToEnd(t *testing.T) {
	c := testcollector.Start(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	fp, err := c.Options().CAFingerprint()
	if err != nil {
		t.Fatal(err)
	}

	// The real agent of this machine: enroll with a token, one cycle.
	if _, err := c.Admin.AddHires(ctx, &pb.AddHiresRequest{Hires: []*pb.Hire{{
		Id: "local", Name: "Local Machine", ClaimedHome: "Austin, TX, US"}}}); err != nil {
		t.Fatal(err)
	}
	tok, err := c.Admin.CreateToken(ctx, &pb.CreateTokenRequest{HireId: "local"})
	if err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	id, _, err := uplink.Enroll(ctx, uplink.EnrollOptions{Collector: c.Addr(), Token: tok.GetToken(),
		CAFingerprint: fp, Hostname: host, OS: "linux"})
	if err != nil {
		t.Fatal(err)
	}
	stateDir := t.TempDir()
	if err := id.Save(stateDir); err != nil {
		t.Fatal(err)
	}
	id, err = uplink.LoadIdentity(stateDir)
	if err != nil {
		t.Fatal(err)
	}
	sp, err := spool.Open(filepath.Join(stateDir, "spool.db"), 100)
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	conn, err := uplink.Dial(id)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	rep := &reporter.Reporter{Spool: sp, Conn: conn, Env: collect.HostEnv(), Interval: time.Minute}
	if err := rep.Start(); err != nil {
		t.Fatal(err)
	}
	if err := rep.Cycle(ctx); err != nil {
		t.Fatalf("agent cycle: %v", err)
	}
	if st, _ := sp.Stats(); st.Pending != 0 {
		t.Fatalf("spool still holds %d reports after an acknowledged delivery", st.Pending)
	}

	// The simulated fleet, placed at public IPs through the trusted proxy.
	fleet := sim.Plan(12, 7)
	defer fleet.Close()
	if err := fleet.Register(ctx, c.Admin); err != nil {
		t.Fatal(err)
	}
	if err := fleet.Enroll(ctx, c.Addr(), fp, 8); err != nil {
		t.Fatal(err)
	}
	for round := range 2 {
		st, err := fleet.Send(ctx, time.Now(), 2, 8)
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if st.Acked != st.Reports {
			t.Fatalf("round %d: %d of %d reports acknowledged", round, st.Acked, st.Reports)
		}
	}

	// The real agent's report as stored.
	reports, err := c.Admin.ListReports(ctx, &pb.ListReportsRequest{DeviceId: id.DeviceID})
	if err != nil {
		t.Fatal(err)
	}
	if len(reports.GetReports()) != 1 {
		t.Fatalf("real agent: %d stored reports, want 1", len(reports.GetReports()))
	}
	got := reports.GetReports()[0]
	if got.GetReport().GetHost().GetHostname() != host {
		t.Errorf("stored hostname %q, want %q", got.GetReport().GetHost().GetHostname(), host)
	}
	if got.GetPublicIp() != "127.0.0.1" || got.GetLocation().GetRange() != "loopback" {
		t.Errorf("real agent public IP %q (range %q): want the observed loopback peer", got.GetPublicIp(), got.GetLocation().GetRange())
	}
	if len(got.GetReport().GetNetwork().GetInterfaces()) == 0 {
		t.Error("stored report has no interfaces")
	}

	// Every simulated device stored 4 reports, located where the simulator put it.
	for _, d := range fleet.Devices {
		rs, err := c.Admin.ListReports(ctx, &pb.ListReportsRequest{DeviceId: d.ID(), Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		if n := len(rs.GetReports()); n != 4 {
			t.Errorf("%s (%s): %d stored reports, want 4", d.ID(), d.Scenario, n)
			continue
		}
		if ip := rs.GetReports()[0].GetPublicIp(); ip != d.PublicIP.String() {
			t.Errorf("%s: stored public IP %s, want the forwarded %s", d.ID(), ip, d.PublicIP)
		}
		if seq := rs.GetReports()[0].GetReport().GetSeq(); seq != 4 {
			t.Errorf("%s: newest seq %d, want 4", d.ID(), seq)
		}
	}

	// Alerts: every planted case raises one, no honest hire does.
	alerts, err := c.Admin.ListAlerts(ctx, &pb.ListAlertsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	byDevice := map[string]*pb.Alert{}
	var farms []*pb.Alert
	for _, a := range alerts.GetAlerts() {
		if a.GetKind() == "farm" {
			farms = append(farms, a)
			continue
		}
		if _, dup := byDevice[a.GetDeviceId()]; dup {
			t.Errorf("device %s has two alerts of one kind", a.GetDeviceId())
		}
		byDevice[a.GetDeviceId()] = a
	}
	rules := func(a *pb.Alert) string {
		var r []string
		for _, e := range a.GetEvidence() {
			r = append(r, e.GetRule())
		}
		return strings.Join(r, ",")
	}
	for _, d := range fleet.Devices {
		a := byDevice[d.ID()]
		switch d.Scenario {
		case sim.Honest:
			if a != nil {
				t.Errorf("honest hire %s raised alert %s: %s", d.Hire.GetId(), a.GetId(), a.GetSummary())
			}
		case sim.Farm:
			if a == nil || !strings.Contains(rules(a), "net.colocated") || !strings.Contains(rules(a), "rat.present") {
				t.Errorf("farm device %s: alert %v, want net.colocated and rat.present", d.ID(), a)
			}
		case sim.VPN:
			if a == nil || !strings.Contains(rules(a), "geo.country_mismatch") {
				t.Errorf("VPN hire %s: alert %v, want geo.country_mismatch", d.ID(), a)
			}
		case sim.ForeignController:
			if a == nil || !strings.Contains(rules(a), "geo.high_risk_peer") {
				t.Fatalf("foreign controller %s: alert %v, want geo.high_risk_peer", d.ID(), a)
			}
			if !strings.Contains(a.GetEvidence()[0].GetExplanation(), "Pyongyang, KP") {
				t.Errorf("foreign controller evidence does not name the peer's place: %s", a.GetEvidence()[0].GetExplanation())
			}
		}
	}
	// One farm alert naming every farm device.
	if len(farms) != 1 {
		t.Fatalf("%d farm alerts, want 1", len(farms))
	}
	var farmIDs []string
	for _, d := range fleet.Devices {
		if d.Scenario == sim.Farm {
			farmIDs = append(farmIDs, d.ID())
		}
	}
	if got := farms[0].GetMemberDevices(); len(got) != len(farmIDs) {
		t.Errorf("farm alert members %v, want %v", got, farmIDs)
	}
	// This machine reports from loopback: no geo evidence; it may differ from
	// the claimed home's time zone, which alone stays under the review threshold.
	if a := byDevice[id.DeviceID]; a != nil && a.GetScore() >= 0.5 {
		t.Errorf("this machine's agent reached review: %s", a.GetSummary())
	}

	// The collector restarts on the same data dir and still has everything.
	devs, err := c.Admin.ListDevices(ctx, &pb.ListDevicesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(devs.GetDevices()) != len(fleet.Devices)+1 {
		t.Fatalf("%d devices listed, want %d", len(devs.GetDevices()), len(fleet.Devices)+1)
	}
}
