package main

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/farmwatch/farmwatch/agent/uplink"
	"github.com/farmwatch/farmwatch/collector/server"
	"github.com/farmwatch/farmwatch/collector/store"
	"github.com/farmwatch/farmwatch/internal/testcollector"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
	"github.com/farmwatch/farmwatch/sim"
)

// payload clears a reviewer's screen, retitles the terminal window, reverses
// what follows and rewrites the line: what a laptop can put in any string.
const payload = "\x1b[2J\x1b]0;pwned\x07\u202e\u009b31m\rX"

// raw are the characters of the payload a terminal acts on.
var raw = []string{"\x1b", "\x07", "\u202e", "\u009b", "\r"}

func wantNoRaw(t *testing.T, what, out string) {
	t.Helper()
	for _, r := range raw {
		if strings.Contains(out, r) {
			t.Errorf("%s prints a raw %q:\n%s", what, r, out)
		}
	}
}

// TestTablesEscapeTerminalSequences: hostnames, an SSID, a USB product and
// a tool name carrying terminal escape sequences reach the store through
// the real agent protocol; every table and show page prints them escaped,
// and the JSON output has them as \u escapes that decode to the original.
func TestTablesEscapeTerminalSequences(t *testing.T) {
	c := testcollector.Start(t, nil)
	ctx := context.Background()
	fp, _ := c.Options().CAFingerprint()
	fleet := sim.Plan(8, 5)
	defer fleet.Close()
	if err := fleet.Register(ctx, c.Admin); err != nil {
		t.Fatal(err)
	}
	if err := fleet.Enroll(ctx, c.Addr(), fp, 4); err != nil {
		t.Fatal(err)
	}
	var foreign, kvm *sim.Device
	for _, d := range fleet.Devices {
		switch d.Scenario {
		case sim.ForeignController:
			foreign = d
		case sim.IPKVM:
			kvm = d
		}
	}
	foreign.Hostname = "mac" + payload
	foreign.Tools[0].Name = "RustDesk" + payload
	kvm.Hostname = "kvm" + payload
	kvm.SSID = "HomeNet" + payload
	kvm.USB[0].Product = "Composite KVM Device" + payload
	for round := 0; round < 2; round++ {
		if _, err := fleet.Send(ctx, time.Now(), 1, 4); err != nil {
			t.Fatal(err)
		}
	}
	escaped := `\x1b[2J\x1b]0;pwned\x07\u202e\u009b31m\rX`

	out, _, err := runCLI(t, c.Data, "devices", "list")
	if err != nil {
		t.Fatal(err)
	}
	wantNoRaw(t, "devices list", out)
	if !strings.Contains(out, "mac"+escaped[:4]) || !strings.Contains(out, "kvm"+escaped[:4]) {
		t.Errorf("devices list lacks the escaped hostnames:\n%s", out)
	}
	out, _, err = runCLI(t, c.Data, "devices", "list", "-o", "wide") // the whole hostname
	if err != nil {
		t.Fatal(err)
	}
	wantNoRaw(t, "devices list -o wide", out)
	if !strings.Contains(out, "mac"+escaped) || !strings.Contains(out, "kvm"+escaped) {
		t.Errorf("devices list -o wide lacks the escaped hostnames:\n%s", out)
	}
	out, _, err = runCLI(t, c.Data, "devices", "show", foreign.ID())
	if err != nil {
		t.Fatal(err)
	}
	wantNoRaw(t, "devices show", out)
	if !strings.Contains(out, "RustDesk"+escaped) || !strings.Contains(out, "mac"+escaped) {
		t.Errorf("devices show lacks the escaped hostname and tool:\n%s", out)
	}
	alerts, err := c.Admin.ListAlerts(ctx, &pb.ListAlertsRequest{DeviceId: foreign.ID()})
	if err != nil || len(alerts.GetAlerts()) == 0 {
		t.Fatalf("no alert for the foreign-controlled laptop: %v", err)
	}
	out, _, err = runCLI(t, c.Data, "alerts", "show", alerts.GetAlerts()[0].GetId())
	if err != nil {
		t.Fatal(err)
	}
	wantNoRaw(t, "alerts show", out)
	if !strings.Contains(out, "mac"+escaped) || !strings.Contains(out, "RustDesk"+escaped) {
		t.Errorf("alerts show lacks the escaped hostname and tool:\n%s", out)
	}
	out, _, err = runCLI(t, c.Data, "alerts", "list")
	if err != nil {
		t.Fatal(err)
	}
	wantNoRaw(t, "alerts list", out)
	out, _, err = runCLI(t, c.Data, "clusters", "list")
	if err != nil {
		t.Fatal(err)
	}
	wantNoRaw(t, "clusters list", out)

	// JSON: escaped by the encoder (ESC, BEL, CR) and by the CLI (U+202E,
	// U+009B), and decoding gives the laptop's strings back.
	out, _, err = runCLI(t, c.Data, "devices", "show", kvm.ID(), "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	wantNoRaw(t, "devices show -o json", out)
	var doc struct {
		Device struct {
			Hostname string `json:"hostname"`
		} `json:"device"`
		RecentReports []struct {
			Report struct {
				Network struct {
					Wifi struct {
						SSID string `json:"ssid"`
					} `json:"wifi"`
				} `json:"network"`
				Peripherals struct {
					USB []struct {
						Product string `json:"product"`
					} `json:"usb"`
				} `json:"peripherals"`
			} `json:"report"`
		} `json:"recent_reports"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("devices show -o json is not JSON: %v", err)
	}
	if doc.Device.Hostname != "kvm"+payload || len(doc.RecentReports) == 0 ||
		doc.RecentReports[0].Report.Network.Wifi.SSID != "HomeNet"+payload ||
		doc.RecentReports[0].Report.Peripherals.USB[0].Product != "Composite KVM Device"+payload {
		t.Errorf("JSON does not decode to the laptop's strings: %+v", doc)
	}
}

func TestTerminalSafe(t *testing.T) {
	tests := []struct{ in, want string }{
		{"laptop-01", "laptop-01"},
		{"Café 中文", "Café 中文"},
		{`C:\Program Files\AnyDesk`, `C:\Program Files\AnyDesk`},
		{"a\tb\nc", `a\tb\nc`},
		{"\x1b[2J\x1b]0;t\x07", `\x1b[2J\x1b]0;t\x07`},
		{"\x7f\u0085\u009b", `\x7f\u0085\u009b`},
		{"abc\u202edef\u2066\u200f", `abc\u202edef\u2066\u200f`},
		{"line\u2028sep", `line\u2028sep`},
		{"K\xf6ln", `K\xf6ln`},
	}
	for _, tt := range tests {
		if got := terminalSafe(tt.in); got != tt.want {
			t.Errorf("terminalSafe(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

type jsonDevice struct {
	EnrolledAt string `json:"enrolled_at"`
	LastSeen   string `json:"last_seen"`
}

// TestBadStoredTimestampDegrades: a store written before timestamps were
// checked on ingest may hold one no clock could mean. The report is written
// straight into the store, bypassing validation, and every view of the
// device still works, showing "invalid time" for the bad ones.
func TestBadStoredTimestampDegrades(t *testing.T) {
	c := testcollector.Start(t, nil)
	ctx := context.Background()
	if _, err := c.Admin.AddHires(ctx, &pb.AddHiresRequest{Hires: []*pb.Hire{{Id: "h1", Name: "Ana", ClaimedHome: "Austin, TX, US"}}}); err != nil {
		t.Fatal(err)
	}
	tok, err := c.Admin.CreateToken(ctx, &pb.CreateTokenRequest{HireId: "h1"})
	if err != nil {
		t.Fatal(err)
	}
	id, _, err := uplink.Enroll(ctx, uplink.EnrollOptions{Collector: c.Addr(), Token: tok.GetToken(), Hostname: "laptop"})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	bad := &pb.StoredReport{ReceivedAt: timestamppb.New(now), PublicIp: "70.112.1.9", Report: &pb.Report{
		Seq: 1, CollectedAt: &timestamppb.Timestamp{Seconds: 1 << 40},
		Host: &pb.Host{Hostname: "laptop", BootTime: &timestamppb.Timestamp{Seconds: 1, Nanos: -5}}}}
	if _, err := c.Store().Ingest(id.DeviceID, []*pb.StoredReport{bad}); err != nil {
		t.Fatal(err)
	}
	if err := c.Store().Update(func(tx *store.Tx) error {
		d, err := tx.Device(id.DeviceID)
		if err != nil {
			return err
		}
		d.EnrolledAt = &timestamppb.Timestamp{Seconds: -1 << 40}
		return tx.PutDevice(d)
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Admin.GetDevice(ctx, &pb.GetDeviceRequest{Id: id.DeviceID}); err != nil {
		t.Fatalf("admin GetDevice: %v", err)
	}

	for _, args := range [][]string{{"devices", "show", id.DeviceID}, {"devices", "list"}} {
		out, _, err := runCLI(t, c.Data, append(args, "-o", "json")...)
		if err != nil {
			t.Fatalf("%v -o json: %v", args, err)
		}
		// protojson varies its spacing on purpose: read the JSON back.
		var doc struct {
			Device  *jsonDevice  `json:"device"`
			Devices []jsonDevice `json:"devices"`
			Reports []struct {
				Report struct {
					CollectedAt string `json:"collected_at"`
					Host        struct {
						BootTime string `json:"boot_time"`
					} `json:"host"`
				} `json:"report"`
			} `json:"recent_reports"`
		}
		if err := json.Unmarshal([]byte(out), &doc); err != nil {
			t.Fatalf("%v -o json is not JSON: %v\n%s", args, err, out)
		}
		dev := doc.Device
		if dev == nil && len(doc.Devices) == 1 {
			dev = &doc.Devices[0]
		}
		if dev == nil || dev.EnrolledAt != invalidTime || !strings.HasPrefix(dev.LastSeen, now.UTC().Format("2006-01-02T15:04:05")) {
			t.Errorf("%v -o json: device %+v, want enrolled_at %q and the valid last_seen kept:\n%s", args, dev, invalidTime, out)
		}
		if args[1] == "show" && (len(doc.Reports) != 1 || doc.Reports[0].Report.CollectedAt != invalidTime ||
			doc.Reports[0].Report.Host.BootTime != invalidTime) {
			t.Errorf("devices show -o json does not say the report's times are invalid:\n%s", out)
		}
		out, _, err = runCLI(t, c.Data, args...)
		if err != nil || args[1] == "show" && !strings.Contains(out, "enrolled: "+invalidTime) {
			t.Errorf("%v: %v\n%s", args, err, out)
		}
	}
}

// TestDevicesShowAgentHealthAndBudget: a reviewer sees what the latest
// report says of the agent's spool (reports it could not spool included)
// and what the device spent of its daily budget.
func TestDevicesShowAgentHealthAndBudget(t *testing.T) {
	c := testcollector.Start(t, func(cfg *server.Config) { cfg.DeviceDailyBudget = 2000 })
	ctx := context.Background()
	if _, err := c.Admin.AddHires(ctx, &pb.AddHiresRequest{Hires: []*pb.Hire{{Id: "h1", Name: "Ana", ClaimedHome: "Austin, TX, US"}}}); err != nil {
		t.Fatal(err)
	}
	tok, err := c.Admin.CreateToken(ctx, &pb.CreateTokenRequest{HireId: "h1"})
	if err != nil {
		t.Fatal(err)
	}
	id, _, err := uplink.Enroll(ctx, uplink.EnrollOptions{Collector: c.Addr(), Token: tok.GetToken(), Hostname: "laptop"})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := uplink.Dial(id)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	r := &pb.Report{Seq: 1, CollectedAt: timestamppb.Now(), Host: &pb.Host{Hostname: "laptop"},
		Health: &pb.AgentHealth{Spooled: 3, Dropped: 1, Unspooled: 2}}
	if _, err := conn.Send(ctx, []*pb.Report{r}); err != nil {
		t.Fatal(err)
	}
	junk := make([]byte, 2000) // letters compression cannot shrink
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range junk {
		junk[i] = byte('a' + rng.IntN(26))
	}
	big := &pb.Report{Seq: 2, CollectedAt: timestamppb.Now(), Host: &pb.Host{Hostname: "laptop"},
		Errors: []*pb.CollectorError{{Collector: "x", Error: string(junk)}}}
	if _, err := conn.Send(ctx, []*pb.Report{big}); status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("report over the budget: %v", err)
	}
	out, _, err := runCLI(t, c.Data, "devices", "show", id.DeviceID)
	if err != nil {
		t.Fatal(err)
	}
	day := time.Now().UTC().Format(time.DateOnly)
	for _, want := range []string{"agent:    spooled 3, dropped 1, unspooled 2",
		"budget:   2000 bytes of reports charged on " + day + " (UTC); 1 refused over the daily budget"} {
		if !strings.Contains(out, want) {
			t.Errorf("devices show lacks %q:\n%s", want, out)
		}
	}
}
