package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/prototext"

	"github.com/farmwatch/farmwatch/internal/testcollector"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
	"github.com/farmwatch/farmwatch/sim"
)

// An erasure request: after `hires delete` no byte of the hire's personal
// data is left in the bbolt file, one audit line without it remains, and the
// collector keeps judging the other hires' devices.
func TestHiresDeleteErasesEveryByte(t *testing.T) {
	c := testcollector.Start(t, nil)
	ctx := context.Background()
	fp, _ := c.Options().CAFingerprint()
	fleet := sim.Plan(8, 5)
	defer fleet.Close()
	var gone, kept *sim.Device
	for _, d := range fleet.Devices {
		switch {
		case d.Scenario == sim.Farm && gone == nil:
			gone = d
		case d.Scenario == sim.Farm && kept == nil:
			kept = d
		}
	}
	// Personal data no other record of the fleet shares, so a grep of the
	// file finds it only if the erasure left it.
	gone.Hire.Name, gone.Hire.Email = "Zelda Quixotic-Marsh", "zq.erase@example.org"
	gone.Hire.Phone, gone.Hire.ShippingAddress = "+1 208 555 0198", "77 Quillfeather Lane, Boise, ID 83702"
	gone.Hire.ClaimedHome = "Boise, ID, US"
	personal := []string{"Zelda Quixotic-Marsh", "zq.erase@example.org", "+1 208 555 0199", "Quillfeather", "Boise"}
	if err := fleet.Register(ctx, c.Admin); err != nil {
		t.Fatal(err)
	}
	if err := fleet.Enroll(ctx, c.Addr(), fp, 4); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := fleet.Send(ctx, time.Now(), 1, 4); err != nil {
			t.Fatal(err)
		}
	}
	// Audit entries naming the hire: an update of every kind of field.
	if _, _, err := runCLI(t, c.Data, "hires", "update", gone.Hire.GetId(), "--phone", "+1 208 555 0199", "--end-date", "2027-06-30", "--note", "HR fix"); err != nil {
		t.Fatal(err)
	}
	upd, err := c.Admin.ListAudit(ctx, &pb.ListAuditRequest{Subject: gone.Hire.GetId(), Limit: 1})
	if err != nil || len(upd.GetEntries()) != 1 || upd.GetEntries()[0].GetDetail() != "phone changed; end_date (none) -> 2027-06-30; HR fix" {
		t.Fatalf("the audit of an update names every changed field: %v %v", upd.GetEntries(), err)
	}
	dbPath := filepath.Join(c.Data, "farmwatch.db")
	raw, err := os.ReadFile(dbPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range personal {
		if !bytes.Contains(raw, []byte(p)) {
			t.Fatalf("%q is not in the store before the erasure: the test would prove nothing", p)
		}
	}
	dev, _ := c.Admin.GetDevice(ctx, &pb.GetDeviceRequest{Id: gone.ID()})
	if dev.GetDevice().GetClusterId() == "" {
		t.Fatalf("the farm device is in no cluster: the test would not cover cluster membership")
	}

	eventsNaming := func() (naming []uint64, total int) {
		t.Helper()
		evs, err := c.Server.Store().AlertEvents(0, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range evs {
			text := prototext.Format(ev)
			for _, p := range append([]string{gone.ID()}, personal...) {
				if strings.Contains(text, p) {
					naming = append(naming, ev.GetId())
					break
				}
			}
		}
		return naming, len(evs)
	}
	naming, total := eventsNaming()
	if len(naming) == 0 {
		t.Fatal("no alert event names the hire's personal data or device before the erasure: the test would prove nothing")
	}
	if _, _, err := runCLI(t, c.Data, "hires", "delete", gone.Hire.GetId()); err == nil || !strings.Contains(err.Error(), "--note is required") {
		t.Fatalf("delete without --note: %v", err)
	}
	out, _, err := runCLI(t, c.Data, "hires", "delete", gone.Hire.GetId(), "--note", "erasure request ER-7")
	if err != nil || !strings.Contains(out, "erased: 1 devices, ") {
		t.Fatalf("hires delete: %v\n%s", err, out)
	}
	raw, err = os.ReadFile(dbPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range personal {
		if i := bytes.Index(raw, []byte(p)); i >= 0 {
			t.Errorf("%q is still in the store file at byte %d after the erasure: %q", p, i, raw[max(i-300, 0):min(i+100, len(raw))])
		}
	}
	// The erasure rewrites the farm alert (an event) and keeps every
	// earlier event, so the ids of the log have no gap.
	if naming, after := eventsNaming(); len(naming) > 0 || after < total {
		t.Errorf("after the erasure, alert events %v still name the hire or their device; %d events, %d before", naming, after, total)
	}
	if _, err := c.Admin.GetHire(ctx, &pb.GetHireRequest{Id: gone.Hire.GetId()}); err == nil {
		t.Error("the hire still reads")
	}
	if _, err := c.Admin.GetDevice(ctx, &pb.GetDeviceRequest{Id: gone.ID()}); err == nil {
		t.Error("the hire's device still reads")
	}
	audit, err := c.Admin.ListAudit(ctx, &pb.ListAuditRequest{Subject: gone.Hire.GetId()})
	if err != nil {
		t.Fatal(err)
	}
	var deleted int
	for _, e := range audit.GetEntries() {
		if e.GetAction() == "hire.delete" {
			deleted++
			if !strings.Contains(e.GetDetail(), "erasure request ER-7") || !strings.Contains(e.GetDetail(), "1 devices") {
				t.Errorf("hire.delete audit line: %q", e.GetDetail())
			}
		}
	}
	if deleted != 1 {
		t.Errorf("%d hire.delete audit lines, want 1", deleted)
	}

	// The other farm member still reports and is still judged.
	before, _ := c.Admin.GetDevice(ctx, &pb.GetDeviceRequest{Id: kept.ID()})
	if _, err := kept.Send(ctx, []*pb.Report{kept.Report(100, time.Now(), 2)}); err != nil {
		t.Fatalf("another hire's device cannot report after the erasure: %v", err)
	}
	after, _ := c.Admin.GetDevice(ctx, &pb.GetDeviceRequest{Id: kept.ID()})
	if !after.GetDevice().GetLastSeen().AsTime().After(before.GetDevice().GetLastSeen().AsTime()) {
		t.Error("the report of another hire's device was not stored")
	}
	alerts, err := c.Admin.ListAlerts(ctx, &pb.ListAlertsRequest{Status: "open"})
	if err != nil {
		t.Fatal(err)
	}
	var keptAlert bool
	for _, a := range alerts.GetAlerts() {
		keptAlert = keptAlert || a.GetDeviceId() == kept.ID()
	}
	if !keptAlert {
		t.Error("another farm member's device has no open alert after the erasure")
	}
}
