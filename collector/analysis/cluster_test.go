package analysis

import (
	"maps"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/farmwatch/farmwatch/collector/store"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

var day0 = time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)

// hourly stores a report of each device on its network for hours hours
// from start.
func (h *harness) hourly(start time.Time, hours int, nets map[string]at) {
	h.t.Helper()
	for hour := 0; hour < hours; hour++ {
		for _, dev := range slices.Sorted(maps.Keys(nets)) {
			h.report(dev, start.Add(time.Duration(hour)*time.Hour), nets[dev], nil)
		}
	}
}

// Two hires at headquarters: the office's Wi-Fi and router are the
// company's and link nobody; the same BSSID elsewhere would.
func TestOfficeNetworksNeverLink(t *testing.T) {
	office := at{ip: "198.51.100.20", gw: "00:1a:1e:40:00:01", bssid: "00:1a:1e:40:10:01", where: sanJose,
		nearby: []string{mac(0x00, 0x17, 0x88, 1), mac(0x00, 0x17, 0x88, 2), mac(0x00, 0x17, 0x88, 3)}}
	cfgOffice := "allow:\n  egress_cidrs: [198.51.100.0/24]\n  office_bssids: [\"00:1A:1E:40:10\"]\n  office_gateway_macs: [\"00-1a-1e-40-00-01\"]\n"
	h := newHarness(t, cfgOffice)
	a, b := h.hire("a", denver), h.hire("b", boston)
	h.hourly(day0, 48, map[string]at{a: office, b: office})
	if cl := h.cluster(a); cl != nil {
		t.Fatalf("an onboarding at headquarters made cluster %s: %s", cl.ID, cl.Reason)
	}
	// Without the allowlist the same two days are a farm: the check has teeth.
	h2 := newHarness(t, "allow:\n  egress_cidrs: [198.51.100.0/24]\n")
	a2, b2 := h2.hire("a", denver), h2.hire("b", boston)
	h2.hourly(day0, 4, map[string]at{a2: office, b2: office})
	if cl := h2.cluster(a2); cl == nil || !cl.Farm {
		t.Fatalf("no farm without the allowlist: %+v", cl)
	}
	// An office BSSID seen from a home is no link either, and an office
	// router outside the company's egress is not the office.
	h3 := newHarness(t, cfgOffice)
	a3, b3 := h3.hire("a", denver), h3.hire("b", boston)
	spoofed := at{ip: "68.2.1.7", gw: "00:1a:1e:40:00:01", bssid: mac(0x50, 0xc7, 0xbf, 9), where: phoenix}
	h3.hourly(day0, 4, map[string]at{a3: spoofed, b3: spoofed})
	if cl := h3.cluster(a3); cl == nil || !cl.Farm {
		t.Fatalf("a farm claiming the office's router outside the office was not linked: %+v", cl)
	}
}

// Links expire with the window: two hires who shared a network for two days
// and then never again leave no cluster; the farm alert stays in the queue
// until a reviewer resolves it, its current score faded.
func TestLinksExpireAndFarmsDissolve(t *testing.T) {
	h := newHarness(t, "")
	a, b := h.hire("a", denver), h.hire("b", boston)
	shared := at{ip: "68.2.1.7", gw: mac(0x50, 0xc7, 0xbf, 1), bssid: mac(0x50, 0xc7, 0xbf, 2), where: phoenix}
	h.hourly(day0, 48, map[string]at{a: shared, b: shared})
	cl := h.cluster(a)
	farm := h.alerts(a)[AlertKindFarm]
	if cl == nil || !cl.Farm || farm == nil || farm.GetScore() < 0.6 {
		t.Fatalf("no farm after two days: %+v %v", cl, farm)
	}
	apart := map[string]at{
		a: {ip: "67.176.1.9", gw: mac(0x3c, 0x37, 0x86, 1), where: denver},
		b: {ip: "72.229.1.9", gw: mac(0x3c, 0x37, 0x86, 2), where: boston},
	}
	for day := 2; day < 12; day++ {
		h.hourly(day0.Add(time.Duration(day)*24*time.Hour), 24, apart)
		h.sweep(day0.Add(time.Duration(day+1) * 24 * time.Hour))
		if (day+1)*24 < 47+168 && h.cluster(a) == nil { // last shared at hour 47, window 168 h
			t.Fatalf("day %d: the cluster dissolved within the 7-day window", day)
		}
	}
	if cl := h.cluster(a); cl != nil {
		t.Fatalf("ten days apart, still cluster %s: %s", cl.ID, cl.Reason)
	}
	if d := h.device(a); d.GetClusterId() != "" {
		t.Errorf("device still names cluster %s", d.GetClusterId())
	}
	farm = h.alerts(a)[AlertKindFarm]
	if farm == nil || farm.GetPeakScore() < 0.6 || farm.GetScore() > Score(h.cfg.Prior, nil)+1e-9 {
		t.Fatalf("farm alert after the farm dissolved: %v", farm)
	}
	if l := h.lines(a, day0.Add(12*24*time.Hour)); l[RuleColocated].GetWeight() != 0 || l[RuleColocated].GetPeakWeight() != 3.6 {
		t.Errorf("net.colocated after the farm dissolved: %+v", l[RuleColocated])
	}
}

// A cluster whose members stop sharing splits: the part that still hangs
// together keeps the id.
func TestClusterSplits(t *testing.T) {
	h := newHarness(t, "")
	a, b, c := h.hire("a", denver), h.hire("b", boston), h.hire("c", seattle)
	x := at{ip: "68.2.1.7", gw: mac(0x50, 0xc7, 0xbf, 1), where: phoenix}
	y := at{ip: "68.2.1.8", gw: mac(0x50, 0xc7, 0xbf, 2), where: phoenix}
	// a on x; b on x, then y; c on y: one cluster of three.
	h.hourly(day0, 3, map[string]at{a: x, b: x})
	h.hourly(day0.Add(3*time.Hour), 3, map[string]at{b: y, c: y})
	id := h.cluster(a).ID
	if cl := h.cluster(c); cl == nil || cl.ID != id || len(cl.Members) != 3 {
		t.Fatalf("not one cluster of three: %+v", cl)
	}
	// From then on a and b stay on x, c alone on y.
	for day := 0; day < 9; day++ {
		h.hourly(day0.Add(6*time.Hour+time.Duration(day)*24*time.Hour), 24, map[string]at{a: x, b: x, c: y})
		h.sweep(day0.Add(6*time.Hour + time.Duration(day+1)*24*time.Hour))
	}
	cl := h.cluster(a)
	if cl == nil || cl.ID != id || len(cl.Members) != 2 || cl.Members[c] != nil {
		t.Fatalf("after the split: %+v", cl)
	}
	if h.cluster(c) != nil {
		t.Fatal("c still in a cluster")
	}
}

// Laptops each behind their own travel router, on hotspots, still see the
// same neighbouring Wi-Fi networks: two of them link them, one does not,
// and hotspots' locally administered BSSIDs never do.
func TestNeighbouringNetworksLink(t *testing.T) {
	neighbours := []string{mac(0x9c, 0x53, 0x22, 1), mac(0xa0, 0x40, 0xa0, 2), mac(0x00, 0x1d, 0x7e, 3)}
	net := func(i byte, nearby []string) at {
		return at{ip: "172.56.23." + string('0'+i), gw: mac(0x94, 0x83, 0xc4, i), bssid: mac(0x94, 0x83, 0xc5, i),
			where: dallas, asn: 21928, nearby: nearby}
	}
	for _, tt := range []struct {
		name   string
		a, b   []string
		linked bool
	}{
		{"three shared", neighbours, neighbours, true},
		{"two shared", neighbours[:2], neighbours[:2], true},
		{"one shared", neighbours[:1], []string{neighbours[0], mac(0x00, 0x24, 0x01, 9)}, false},
		{"hotspots only", []string{"02:11:22:33:44:55", "0a:11:22:33:44:56"}, []string{"02:11:22:33:44:55", "0a:11:22:33:44:56"}, false},
	} {
		h := newHarness(t, "")
		a, b := h.hire("a", denver), h.hire("b", boston)
		h.hourly(day0, 3, map[string]at{a: net(1, tt.a), b: net(2, tt.b)})
		cl := h.cluster(a)
		if (cl != nil) != tt.linked {
			t.Errorf("%s: cluster %+v, want linked %v", tt.name, cl, tt.linked)
			continue
		}
		if cl != nil && (!cl.Farm || cl.IPOnly || !strings.Contains(cl.Reason, "nearby bssid")) {
			t.Errorf("%s: %+v", tt.name, cl)
		}
	}
}

// Three hires' laptops on one AT&T home line are a farm by public IP alone,
// found at the report that makes it one; on a mobile carrier's shared
// address they are nothing.
func TestPublicIPFarmOnWirelineISP(t *testing.T) {
	sanAntonio := city{"San Antonio, Texas, US", "US", "America/Chicago", 29.4241, -98.4936}
	for _, tt := range []struct {
		name string
		asn  uint32
		farm bool
	}{{"AT&T home internet (AS7018)", 7018, true}, {"T-Mobile (AS21928)", 21928, false}, {"AT&T Mobility (AS20057)", 20057, false}} {
		h := newHarness(t, "")
		devs := []string{h.hire("a", denver), h.hire("b", boston), h.hire("c", seattle)}
		for i, d := range devs {
			n := at{ip: "99.57.1.77", gw: mac(0x94, 0x83, 0xc4, byte(i)), where: sanAntonio, asn: tt.asn}
			h.report(d, day0, n, nil)
			h.report(d, day0.Add(time.Hour), n, nil)
		}
		farm := h.alerts(devs[2])[AlertKindFarm]
		if (farm != nil) != tt.farm {
			t.Errorf("%s: farm alert %v, want %v", tt.name, farm, tt.farm)
			continue
		}
		if farm == nil {
			continue
		}
		cl := h.cluster(devs[0])
		if !cl.IPOnly || farm.GetScore() < 0.6 || len(farm.GetMemberDevices()) != 3 {
			t.Errorf("%s: %+v, alert score %.3f", tt.name, cl, farm.GetScore())
		}
		// Members get farm membership at its public-IP-only weight: a weak sign.
		if w := h.lines(devs[0], day0.Add(time.Hour))[RuleColocated].GetWeight(); math.Abs(w-3.6*0.7) > 1e-9 {
			t.Errorf("%s: net.colocated %.3f", tt.name, w)
		}
	}
	// Two hires are not enough by IP alone.
	h := newHarness(t, "")
	a, b := h.hire("a", denver), h.hire("b", boston)
	n := at{ip: "99.57.1.77", where: sanAntonio, asn: 7018}
	h.hourly(day0, 3, map[string]at{a: n, b: n})
	if cl := h.cluster(a); cl == nil || cl.Farm {
		t.Errorf("two hires on one home line: %+v", cl)
	}
}

// A farm's place comes from the reports that carry its shared network: a
// member away on a hotspot does not move it.
func TestClusterPlaceFromLinkingReports(t *testing.T) {
	h := newHarness(t, "")
	a, b, c := h.hire("a", denver), h.hire("b", boston), h.hire("c", seattle)
	farm := at{ip: "68.2.1.7", gw: mac(0x50, 0xc7, 0xbf, 1), bssid: mac(0x50, 0xc7, 0xbf, 2), where: phoenix}
	h.hourly(day0, 3, map[string]at{a: farm, b: farm, c: farm})
	hotspot := at{ip: "172.56.23.9", gw: "02:0f:b5:00:00:01", bssid: "02:0f:b5:00:00:02", where: dallas, asn: 21928}
	h.report(c, day0.Add(4*time.Hour), hotspot, nil)
	cl := h.cluster(a)
	if cl == nil || cl.Observed == nil || cl.Observed.Place != "Phoenix, Arizona, US, US" && !strings.HasPrefix(cl.Observed.Place, "Phoenix") {
		t.Fatalf("farm placed at %+v", cl.Observed)
	}
	if cl.Members[c] == nil {
		t.Fatal("the member on a hotspot left the farm")
	}
}

// A farm alert's score is made by its own lines, each explained; members'
// device scores are shown beside it.
func TestFarmAlertScoredByItsLines(t *testing.T) {
	h := newHarness(t, "")
	a, b, c := h.hire("a", denver), h.hire("b", boston), h.hire("c", seattle)
	farm := at{ip: "68.2.1.7", gw: mac(0x50, 0xc7, 0xbf, 1), bssid: mac(0x50, 0xc7, 0xbf, 2), where: phoenix}
	h.hourly(day0, 3, map[string]at{a: farm, b: farm, c: farm})
	al := h.alerts(a)[AlertKindFarm]
	lines := map[string]*pb.Evidence{}
	for _, e := range al.GetEvidence() {
		lines[e.GetRule()] = e
	}
	// A router and a Wi-Fi network (2.0), three places (1.5 x 1.5), all three
	// homes far from Phoenix (1.5).
	for rule, w := range map[string]float64{RuleFarmNetwork: 2.0, RuleFarmHomes: 2.25, RuleFarmFar: 1.5} {
		if e := lines[rule]; e == nil || math.Abs(e.GetWeight()-w) > 1e-9 || e.GetExplanation() == "" || e.GetClass() != "farm" {
			t.Errorf("%s: %+v, want weight %.2f", rule, e, w)
		}
	}
	if want := Score(h.cfg.Prior, al.GetEvidence()); math.Abs(al.GetScore()-want) > 1e-12 {
		t.Errorf("farm score %.4f, its lines make %.4f", al.GetScore(), want)
	}
	var now map[string]float64
	h.st.View(func(tx *store.Tx) error { now = FarmMemberScores(tx, al); return nil })
	for _, d := range []string{a, b, c} {
		if _, ok := al.GetMemberScores()[d]; !ok {
			t.Errorf("member %s has no score on the alert: %v", d, al.GetMemberScores())
		}
		if s, ok := now[d]; !ok || s != h.device(d).GetScore() {
			t.Errorf("member %s read at %.3f (present %v), device scores %.3f", d, s, ok, h.device(d).GetScore())
		}
	}
	if !strings.Contains(lines[RuleFarmHomes].GetExplanation(), "Hire b (b) claims Boston") ||
		!strings.Contains(lines[RuleFarmFar].GetExplanation(), "km away") {
		t.Errorf("lines do not name members and distances: %v", al.GetEvidence())
	}
}

// The fingerprint index forgets what no link can use: a laptop reporting a
// new network every hour does not grow it without bound.
func TestFingerprintIndexPruned(t *testing.T) {
	h := newHarness(t, "")
	a := h.hire("a", denver)
	for hour := 0; hour < 24*10; hour++ {
		h.report(a, day0.Add(time.Duration(hour)*time.Hour), at{ip: "68.2.1.7", gw: mac(0x50, byte(hour>>8), byte(hour), 1),
			bssid: mac(0x51, byte(hour>>8), byte(hour), 2), where: phoenix}, nil)
	}
	count := func() (n int) {
		h.st.View(func(tx *store.Tx) error {
			tx.Scan(store.BucketFingerprints, nil, func(k, v []byte) bool { n++; return true })
			return nil
		})
		return n
	}
	if n := count(); n < 2*24*10 {
		t.Fatalf("index holds %d entries before the sweep", n)
	}
	h.sweep(day0.Add(24 * 10 * time.Hour))
	// Routers and Wi-Fi networks of the last 7 days and an hour stay (2 a hour, plus the public IP).
	if n := count(); n > 2*(24*7+1)+1 || n < 2*24*7 {
		t.Fatalf("index holds %d entries after the sweep", n)
	}
	// Bounded passes resume where the last stopped.
	var next []byte
	h.st.Update(func(tx *store.Tx) (err error) {
		next, err = pruneFingerprints(tx, &h.cfg, nil, day0.Add(30*24*time.Hour), 100)
		return err
	})
	if n := count(); next == nil || n < 2*24*7-100 || n > 2*24*7+3-100+1 {
		t.Fatalf("a pass of 100 left %d entries, next %q", n, next)
	}
}

// A BSSID holding a zero byte (the laptop sent it; ingest checks the
// gateway's MAC but not the Wi-Fi's) is no MAC address: it makes no
// fingerprint, whose index key separates its parts with zero bytes.
func TestFingerprintsDropZeroBytes(t *testing.T) {
	cfg := DefaultConfig()
	sr := &pb.StoredReport{Report: &pb.Report{Network: &pb.Network{GatewayMac: "00:11:22:33:44:55",
		Wifi: &pb.Wifi{Bssid: "00:11:22:33:44\x0066", Nearby: []*pb.BSS{{Bssid: "00:17:88:00:00\x0001", SignalDbm: -40}, {Bssid: "00:17:88:00:00:02", SignalDbm: -50}}}}}}
	var got []string
	for _, fp := range fingerprints(&cfg, sr) {
		got = append(got, fp.Kind+"="+fp.Value)
	}
	want := []string{FPGatewayMAC + "=00:11:22:33:44:55", FPNearby + "=00:17:88:00:00:02"}
	if !slices.Equal(got, want) {
		t.Fatalf("fingerprints: %q, want %q", got, want)
	}
}
