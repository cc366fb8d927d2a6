package analysis

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/farmwatch/farmwatch/collector/store"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

func TestDecayFactorAtItsEdges(t *testing.T) {
	d := Decay{Hold: 24 * time.Hour, Fade: 48 * time.Hour}
	for _, tt := range []struct {
		age  time.Duration
		want float64
	}{
		{0, 1}, {24 * time.Hour, 1}, {24*time.Hour + time.Second, 1 - 1.0/(48*3600)}, {48 * time.Hour, 0.5},
		{72*time.Hour - time.Second, 1.0 / (48 * 3600)}, {72 * time.Hour, 0}, {1000 * time.Hour, 0},
	} {
		if got := d.Factor(tt.age); math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("Factor(%s) = %v, want %v", tt.age, got, tt.want)
		}
	}
	hold := Decay{Hold: 30 * 24 * time.Hour}
	if hold.Factor(30*24*time.Hour) != 1 || hold.Factor(30*24*time.Hour+1) != 0 {
		t.Error("a decay without fade must stop at once after its hold")
	}
	if d.String() != "full for 1 day after last seen, then fades out over 2 days" || hold.String() != "counts for 30 days after last seen" {
		t.Errorf("decay reads %q and %q", d, hold)
	}
}

// A controller connected a few hours a day keeps the device at review all
// day: the score comes from remembered evidence, not the latest report.
func TestIntermittentControllerStaysAtReview(t *testing.T) {
	h := newHarness(t, "")
	dev := h.hire("h1", denver)
	home := at{ip: "67.176.1.9", gw: mac(0x3c, 0x37, 0x86, 1), where: denver}
	start := time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)
	session := func(sr *pb.StoredReport, on bool) {
		tool := &pb.ToolMatch{ToolId: "rustdesk", Name: "RustDesk", Process: "rustdesk"}
		sr.Report.RemoteAccess = &pb.RemoteAccess{Tools: []*pb.ToolMatch{tool}}
		if on {
			tool.Connections = []*pb.Connection{{RemoteAddress: "175.45.177.7", RemotePort: 21117, State: "established"}}
			sr.Peers = []*pb.PeerLocation{{Ip: "175.45.177.7", ToolId: "rustdesk", Location: &pb.IPLocation{Country: "KP",
				City: "Pyongyang", Latitude: pyongyang.lat, Longitude: pyongyang.lon, Geolocatable: true}}}
		}
	}
	for hour := 0; hour < 72; hour++ {
		t0 := start.Add(time.Duration(hour) * time.Hour)
		on := hour%24 >= 1 && hour%24 <= 3
		h.report(dev, t0, home, func(sr *pb.StoredReport) { session(sr, on) })
		if hour < 1 {
			continue
		}
		score := h.device(dev).GetScore()
		a := h.alerts(dev)[AlertKindDevice]
		if score < 0.6 || a == nil || a.GetPeakScore() < 0.6 {
			t.Fatalf("hour %d (session %v): score %.3f, alert %v", hour, on, score, a)
		}
	}
	// Read at 20:00 on the third day, long after the last session.
	l := h.lines(dev, start.Add(68*time.Hour))
	peer := l[RuleHighRiskPeer]
	if peer == nil || peer.GetWeight() != 3.6 || peer.GetReports() != 9 || peer.GetPeakWeight() != 3.6 ||
		!peer.GetFirstSeen().AsTime().Equal(start.Add(time.Hour)) || !peer.GetObservedAt().AsTime().Equal(start.Add(51*time.Hour)) ||
		peer.GetClass() != "proof" || !strings.Contains(peer.GetDecay(), "7 days") {
		t.Errorf("high-risk peer line: %+v", peer)
	}
	if rat := l[RuleRATPresent]; rat == nil || rat.GetReports() != 72 {
		t.Errorf("rat.present line: %+v", rat)
	}
	// docs/ANALYSIS.md's worked example: at 20:00 on the third day, 17 hours
	// after the last session, the three lines still count in full.
	sess := l[RuleRemoteSession]
	if sess.GetWeight() != 1 || sess.GetReports() != 9 || !sess.GetObservedAt().AsTime().Equal(start.Add(51*time.Hour)) {
		t.Errorf("remote-session line: %+v", sess)
	}
	if got := Score(h.cfg.Prior, live(h.linesList(dev, start.Add(68*time.Hour)))); math.Abs(got-0.9340) > 5e-5 {
		t.Errorf("score at 20:00 on day 3: %.4f, the documented example says 0.9340", got)
	}
}

// A traveller's evidence fades within a day of coming home; the peak stays
// on the line.
func TestTravellerEvidenceFades(t *testing.T) {
	h := newHarness(t, "")
	dev := h.hire("h1", austin)
	home := at{ip: "70.112.1.9", gw: mac(0x3c, 0x37, 0x86, 1), where: austin}
	away := at{ip: "73.53.1.9", gw: mac(0x00, 0x0b, 0x86, 2), where: seattle}
	start := time.Date(2026, 11, 2, 12, 0, 0, 0, time.UTC)
	for hour := 0; hour < 24; hour++ {
		h.report(dev, start.Add(time.Duration(hour)*time.Hour), away, nil)
	}
	last := start.Add(23 * time.Hour) // the last report from Seattle
	// Six hours of flight without a report count on the device's clock (the
	// agent was away less than the silence limit); home reports follow.
	want := map[time.Duration]float64{11 * time.Hour: 1, 18 * time.Hour: 0.5, 30 * time.Hour: 0} // 12 h full, 12 h fading
	for after := 7 * time.Hour; after <= 54*time.Hour; after += time.Hour {
		h.report(dev, last.Add(after), home, nil)
		w, ok := want[after]
		if !ok {
			continue
		}
		l := h.lines(dev, last.Add(after))
		if got := l[RuleFarFromClaimed].GetWeight(); math.Abs(got-w) > 1e-9 {
			t.Errorf("%s after the trip, far_from_claimed adds %.3f, want %.3f", after, got, w)
		}
		if l[RuleFarFromClaimed].GetPeakWeight() != 1 || l[RuleFarFromClaimed].GetReports() != 24 {
			t.Errorf("line: %+v", l[RuleFarFromClaimed])
		}
	}
	if s := h.device(dev).GetScore(); s > Score(h.cfg.Prior, nil)+1e-9 {
		t.Errorf("two days home, score %.3f", s)
	}
}

// Switching the agent off does not age evidence away: the device's clock
// stops at the silence limit, and the silence itself joins the evidence.
func TestSilenceStopsTheClock(t *testing.T) {
	h := newHarness(t, "")
	dev := h.hire("h1", austin)
	home := at{ip: "70.112.1.9", gw: mac(0x3c, 0x37, 0x86, 1), where: austin}
	t0 := time.Date(2026, 11, 2, 12, 0, 0, 0, time.UTC)
	h.report(dev, t0, home, func(sr *pb.StoredReport) {
		sr.Report.Peripherals = &pb.Peripherals{Usb: []*pb.USBDevice{{VendorId: "1d6b", ProductId: "0104", Manufacturer: "PiKVM",
			Flagged: "ip-kvm", Confidence: "high"}}}
	})
	h.sweep(t0.Add(12 * time.Hour)) // a night: not silent
	if l := h.lines(dev, t0.Add(12*time.Hour)); l[RuleSilent] != nil {
		t.Fatal("silent after a night")
	}
	ten := t0.Add(10 * 24 * time.Hour)
	h.sweep(ten)
	l := h.lines(dev, ten)
	// hw.ip_kvm holds 3 days: ten days of silence count as one (min_silent).
	if l[RuleIPKVM].GetWeight() != 3.6 || l[RuleSilent].GetWeight() != 0.5 {
		t.Fatalf("after ten silent days: %+v", l)
	}
	if a := h.alerts(dev)[AlertKindDevice]; a == nil || a.GetScore() < 0.6 || !strings.Contains(a.GetSummary(), RuleSilent) {
		t.Fatalf("alert after silence: %v", a)
	}
}

// What the collector sees of the delivery becomes evidence like any rule's.
func TestIngestEventsBecomeEvidence(t *testing.T) {
	h := newHarness(t, "")
	dev := h.hire("h1", austin)
	t0 := time.Date(2026, 11, 2, 12, 0, 0, 0, time.UTC)
	h.report(dev, t0, at{ip: "70.112.1.9", where: austin}, nil)
	for _, kind := range []string{store.EventSpoolReset, store.EventClonedIdentity} {
		err := h.st.Update(func(tx *store.Tx) error {
			d, err := tx.Device(dev)
			if err != nil {
				return err
			}
			if err := tx.RecordEvent(d, store.IngestEvent{Kind: kind, At: t0.Add(time.Minute), Text: "seen: " + kind,
				Facts: map[string]string{"epoch": "7"}}); err != nil {
				return err
			}
			return tx.PutDevice(d)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	l := h.lines(dev, t0.Add(time.Hour))
	if l[RuleSpoolReset].GetWeight() != 0.5 || l[RuleClonedIdentity].GetWeight() != 2.0 ||
		l[RuleClonedIdentity].GetExplanation() != "seen: "+store.EventClonedIdentity {
		t.Fatalf("lines: %v", l)
	}
	want := Score(h.cfg.Prior, []*pb.Evidence{{Weight: 2.5}})
	if d := h.device(dev); math.Abs(d.GetScore()-want) > 1e-9 {
		t.Errorf("device score %.3f, want %.3f", d.GetScore(), want)
	}
	if err := h.st.Update(func(tx *store.Tx) error {
		d, _ := tx.Device(dev)
		return tx.RecordEvent(d, store.IngestEvent{Kind: "no_such_event", At: t0})
	}); err == nil {
		t.Error("an event no rule reads was accepted silently")
	}
}
