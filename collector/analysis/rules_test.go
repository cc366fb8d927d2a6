package analysis

import (
	"math"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

var t0 = time.Date(2026, 11, 10, 15, 0, 0, 0, time.UTC) // 09:00 in Austin (CST)

func austinHire() *pb.Hire {
	return &pb.Hire{Id: "h1", Name: "Ana Lee", Phone: "512-555-0100",
		Home: &pb.ClaimedHome{Place: "Austin, Texas, US", Country: "US", Latitude: 30.2672, Longitude: -97.7431, TimeZone: "America/Chicago"}}
}

func in(mut func(*Input)) Input {
	cfg := DefaultConfig()
	i := Input{Hire: austinHire(), Config: &cfg, State: &DeviceState{}, Now: t0,
		Report: &pb.StoredReport{ReceivedAt: timestamppb.New(t0), PublicIp: "70.112.1.9", Report: &pb.Report{},
			Location: &pb.IPLocation{Country: "US", City: "Austin", Latitude: 30.27, Longitude: -97.74, AccuracyKm: 20, Geolocatable: true}}}
	if mut != nil {
		mut(&i)
	}
	return i
}

func fires(t *testing.T, name string, r Rule, i Input, want bool) *pb.Evidence {
	t.Helper()
	ev := r(i)
	if (ev != nil) != want {
		t.Errorf("%s: fired=%v, want %v (%v)", name, ev != nil, want, ev)
	}
	return ev
}

func TestConfigDefaultsAndOverrides(t *testing.T) {
	cfg := DefaultConfig()
	for _, r := range RuleNames() {
		if _, ok := cfg.Weights[r]; !ok {
			t.Errorf("default config has no weight for %s", r)
		}
	}
	over, err := ParseConfig([]byte("weights:\n  rat.present: 2.0\nallow:\n  egress_cidrs: [203.0.113.0/24, 198.51.100.7]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if over.Weights[RuleRATPresent] != 2.0 || over.Weights[RuleColocated] != cfg.Weights[RuleColocated] {
		t.Errorf("override merged wrongly: %v", over.Weights)
	}
	if !over.companyEgress("203.0.113.77") || !over.companyEgress("198.51.100.7") || over.companyEgress("198.51.100.8") {
		t.Error("egress allowlist not applied")
	}
	for _, bad := range []string{"weights:\n  rat.presnt: 1\n", "unknown_key: 1\n", "review_threshold: 1.5\n", "allow:\n  egress_cidrs: [nonsense]\n"} {
		if _, err := ParseConfig([]byte(bad)); err == nil {
			t.Errorf("config %q accepted", bad)
		}
	}
}

func TestCountryMismatchAndEgress(t *testing.T) {
	fires(t, "same country", countryMismatch, in(nil), false)
	ev := fires(t, "abroad", countryMismatch, in(func(i *Input) {
		i.Report.Location = &pb.IPLocation{Country: "NL", City: "Amsterdam", Geolocatable: true, Asn: 9009, AsOrg: "M247"}
	}), true)
	if ev != nil && !strings.Contains(ev.GetExplanation(), "Amsterdam, NL") {
		t.Errorf("explanation %q", ev.GetExplanation())
	}
	fires(t, "not geolocatable", countryMismatch, in(func(i *Input) { i.Report.Location = &pb.IPLocation{Range: "cgnat"} }), false)
	fires(t, "company egress abroad", countryMismatch, in(func(i *Input) {
		i.Report.Location = &pb.IPLocation{Country: "NL", Geolocatable: true}
		i.Report.PublicIp = "203.0.113.5"
		i.Config.Allow.EgressCIDRs = []string{"203.0.113.0/24"}
		c, _ := ParseConfig([]byte("allow:\n  egress_cidrs: [203.0.113.0/24]\n"))
		i.Config = &c
	}), false)
}

func TestFarFromClaimedAccuracyRadius(t *testing.T) {
	// Dallas is ~292 km from Austin.
	dallas := func(acc float64) func(*Input) {
		return func(i *Input) {
			i.Report.Location = &pb.IPLocation{Country: "US", City: "Dallas", Latitude: 32.7767, Longitude: -96.7970, AccuracyKm: acc, Geolocatable: true}
			i.Config.Geo.FarKM = 200
		}
	}
	fires(t, "292 km, radius 20, threshold 200", farFromClaimed, in(dallas(20)), true)
	fires(t, "292 km, radius 100 (margin 192 < 200)", farFromClaimed, in(dallas(100)), false)
	fires(t, "radius larger than the distance", farFromClaimed, in(dallas(500)), false)
	fires(t, "home", farFromClaimed, in(nil), false)
}

func TestHighRiskPeerAndRAT(t *testing.T) {
	peer := func(country, tool string) func(*Input) {
		return func(i *Input) {
			i.Report.Report.RemoteAccess = &pb.RemoteAccess{Tools: []*pb.ToolMatch{{ToolId: tool, Name: "AnyDesk", Process: "AnyDesk",
				Connections: []*pb.Connection{{RemoteAddress: "113.224.1.5", RemotePort: 443}}}}}
			i.Report.Peers = []*pb.PeerLocation{{Ip: "113.224.1.5", ToolId: tool, Location: &pb.IPLocation{Country: country, City: "Shenyang"}}}
		}
	}
	fires(t, "peer in CN", highRiskPeer, in(peer("CN", "anydesk")), true)
	fires(t, "peer in DE", highRiskPeer, in(peer("DE", "anydesk")), false)
	fires(t, "tool present", ratPresent, in(peer("DE", "anydesk")), true)
	fires(t, "remote session", remoteSession, in(peer("DE", "anydesk")), true)
	allowed := func(i *Input) { peer("CN", "anydesk")(i); i.Config.Allow.Tools = []string{"anydesk"} }
	fires(t, "sanctioned tool: rat", ratPresent, in(allowed), false)
	fires(t, "sanctioned tool: peer", highRiskPeer, in(allowed), false)
	fires(t, "no tools", ratPresent, in(nil), false)
	fires(t, "rdp session", remoteSession, in(func(i *Input) {
		i.Report.Report.RemoteAccess = &pb.RemoteAccess{Sessions: []*pb.Session{{Type: "rdp", RemoteHost: "10.0.0.5"}}}
	}), true)
	fires(t, "console session", remoteSession, in(func(i *Input) {
		i.Report.Report.RemoteAccess = &pb.RemoteAccess{Sessions: []*pb.Session{{Type: "console"}}}
	}), false)
}

func TestImpossibleTravel(t *testing.T) {
	last := func(hoursAgo float64) func(*Input) {
		return func(i *Input) {
			i.State.Last = &Observation{Lat: 40.7128, Lon: -74.006, AccuracyKM: 20, At: t0.Add(-time.Duration(hoursAgo * float64(time.Hour))), IP: "72.229.1.1", Place: "New York"}
		}
	}
	// New York -> Austin is ~2,430 km.
	fires(t, "1 hour", impossibleTravel, in(last(1)), true)
	fires(t, "5 hours (a flight)", impossibleTravel, in(last(5)), false)
	fires(t, "no previous", impossibleTravel, in(nil), false)
	fires(t, "jump within accuracy", impossibleTravel, in(func(i *Input) {
		i.State.Last = &Observation{Lat: 30.5, Lon: -97.9, AccuracyKM: 300, At: t0.Add(-time.Minute)}
	}), false)
}

func TestAnonymizer(t *testing.T) {
	fires(t, "vpn interface", anonymizer, in(func(i *Input) {
		i.Report.Report.Network = &pb.Network{Interfaces: []*pb.Interface{{Name: "utun4", Kind: "vpn", Up: true}}}
	}), true)
	fires(t, "company vpn interface", anonymizer, in(func(i *Input) {
		i.Report.Report.Network = &pb.Network{Interfaces: []*pb.Interface{{Name: "gpd0", Kind: "vpn", Up: true}}}
		i.Config.Allow.VPNInterfacePrefixes = []string{"gpd"}
	}), false)
	fires(t, "vpn interface down", anonymizer, in(func(i *Input) {
		i.Report.Report.Network = &pb.Network{Interfaces: []*pb.Interface{{Name: "tun0", Kind: "vpn"}}}
	}), false)
	fires(t, "hosting ASN", anonymizer, in(func(i *Input) { i.Report.Location.Anonymizer = "hosting" }), true)
	fires(t, "vpn client", anonymizer, in(func(i *Input) {
		i.Report.Report.VpnClients = []*pb.ToolMatch{{ToolId: "astrill", Name: "Astrill VPN", Process: "astrill"}}
	}), true)
}

func TestHardware(t *testing.T) {
	kvm := func(conf string) func(*Input) {
		return func(i *Input) {
			i.Report.Report.Peripherals = &pb.Peripherals{Usb: []*pb.USBDevice{{VendorId: "1d6b", ProductId: "0104", Manufacturer: "PiKVM",
				Product: "Composite KVM Device", Flagged: "ip-kvm", Confidence: conf, MatchReason: "manufacturer PiKVM"}}}
		}
	}
	hi := fires(t, "PiKVM", ipKVM, in(kvm("high")), true)
	med := fires(t, "generic gadget", ipKVM, in(kvm("medium")), true)
	if hi != nil && med != nil && !(hi.GetWeight() > med.GetWeight()) {
		t.Errorf("high-confidence KVM weight %.2f not above medium %.2f", hi.GetWeight(), med.GetWeight())
	}
	fires(t, "jiggler", jiggler, in(func(i *Input) {
		i.Report.Report.Peripherals = &pb.Peripherals{Usb: []*pb.USBDevice{{Flagged: "jiggler", Product: "Mouse Jiggler"}}}
	}), true)
	fires(t, "plain mouse", ipKVM, in(func(i *Input) {
		i.Report.Report.Peripherals = &pb.Peripherals{Usb: []*pb.USBDevice{{VendorId: "046d", ProductId: "c077"}}}
	}), false)
	fires(t, "KVM on the LAN", ipKVM, in(func(i *Input) {
		i.Report.Report.Network = &pb.Network{Neighbors: []*pb.Neighbor{{Ip: "192.168.1.50", Mac: "30:52:53:00:00:01", FlaggedVendor: "JetKVM"}}}
	}), true)
}

func TestTZMismatchAcrossDST(t *testing.T) {
	at := func(ts time.Time, zone string, off int32) func(*Input) {
		return func(i *Input) {
			i.Report.ReceivedAt = timestamppb.New(ts)
			i.Report.Report.Locale = &pb.Locale{TimeZone: zone, UtcOffsetSeconds: off}
		}
	}
	fires(t, "same zone", tzMismatch, in(at(t0, "America/Chicago", -6*3600)), false)
	fires(t, "same offset other name", tzMismatch, in(at(t0, "America/Mexico_City", -6*3600)), false)
	fires(t, "Seoul", tzMismatch, in(at(t0, "Asia/Seoul", 9*3600)), true)
	// Phoenix keeps UTC-7 all year; Chicago is UTC-6 in winter and UTC-5 in summer.
	fires(t, "Phoenix in November", tzMismatch, in(at(t0, "America/Phoenix", -7*3600)), true)
	// 2026-03-08 is the US spring-forward: at 07:59 UTC Chicago is still CST (-6), at 08:01 CDT (-5).
	before := time.Date(2026, 3, 8, 7, 59, 0, 0, time.UTC)
	after := time.Date(2026, 3, 8, 8, 1, 0, 0, time.UTC)
	fires(t, "Denver just before DST (-7 vs -6)", tzMismatch, in(at(before, "America/Denver", 0)), true)
	fires(t, "Regina (always -6) before the change", tzMismatch, in(at(before, "America/Regina", 0)), false)
	fires(t, "Regina after the change (-6 vs -5)", tzMismatch, in(at(after, "America/Regina", 0)), true)
	fires(t, "offset only", tzMismatch, in(at(t0, "", 9*3600)), true)
}

func TestInputMethod(t *testing.T) {
	fires(t, "Korean IME", inputMethod, in(func(i *Input) {
		i.Report.Report.Locale = &pb.Locale{InputMethods: []string{"ibus:hangul"}, InputLanguages: []string{"ko"}}
	}), true)
	fires(t, "Spanish layout", inputMethod, in(func(i *Input) {
		i.Report.Report.Locale = &pb.Locale{KeyboardLayouts: []string{"es"}, InputLanguages: []string{"es"}}
	}), false)
}

func activityState(cfg *Config, hire *pb.Hire, days int, hoursLocal []int) *DeviceState {
	s := &DeviceState{}
	loc, _ := time.LoadLocation(hire.GetHome().GetTimeZone())
	start := time.Date(2026, 11, 2, 0, 0, 0, 0, loc)
	for d := 0; d < days; d++ {
		for _, h := range hoursLocal {
			for _, m := range []int{0, 20, 40} {
				ts := start.AddDate(0, 0, d).Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute)
				s.observe(cfg, hire, &pb.StoredReport{ReceivedAt: timestamppb.New(ts), Report: &pb.Report{Activity: &pb.Activity{IdleSeconds: 30}}}, nil)
			}
		}
	}
	return s
}

func TestOffHours(t *testing.T) {
	cfg := DefaultConfig()
	h := austinHire()
	now := time.Date(2026, 11, 9, 12, 0, 0, 0, time.UTC)
	seoulDay := []int{18, 19, 20, 21, 22, 23, 0, 1, 2}  // 09:00-18:00 KST is 18:00-03:00 in Austin (CST)
	nightOwl := []int{17, 18, 19, 20, 21, 22, 23, 0, 1} // works until 2 a.m.
	office := []int{9, 10, 11, 12, 13, 14, 15, 16}
	run := func(name string, hours []int, days int, want bool) {
		i := in(func(i *Input) { i.State = activityState(&cfg, h, days, hours); i.Now = now; i.Config = &cfg })
		fires(t, name, offHours, i, want)
	}
	run("Seoul office hours", seoulDay, 6, true)
	run("night owl", nightOwl, 6, false)
	run("office hours", office, 6, false)
	run("Seoul hours, too few days", seoulDay, 2, false)
}

func TestShelfPattern(t *testing.T) {
	cfg := DefaultConfig()
	st := &DeviceState{}
	shelf := &pb.Report{Power: &pb.Power{OnAc: true, Lid: "closed"}, Activity: &pb.Activity{IdleSeconds: 7200}}
	docked := &pb.Report{Power: &pb.Power{OnAc: true, Lid: "closed"}, Activity: &pb.Activity{IdleSeconds: 20}}
	for n := 0; n < 11; n++ {
		st.observe(&cfg, austinHire(), &pb.StoredReport{ReceivedAt: timestamppb.New(t0), Report: shelf}, nil)
	}
	fires(t, "11 shelf reports (under min_samples)", shelfPattern, in(func(i *Input) { i.State = st }), false)
	st.observe(&cfg, austinHire(), &pb.StoredReport{ReceivedAt: timestamppb.New(t0), Report: shelf}, nil)
	fires(t, "12 shelf reports", shelfPattern, in(func(i *Input) { i.State = st }), true)
	st.observe(&cfg, austinHire(), &pb.StoredReport{ReceivedAt: timestamppb.New(t0), Report: docked}, nil)
	st.observe(&cfg, austinHire(), &pb.StoredReport{ReceivedAt: timestamppb.New(t0), Report: docked}, nil)
	fires(t, "12 of 14 (86%, under 90%)", shelfPattern, in(func(i *Input) { i.State = st }), false)
	// Exactly on the threshold: 18 of 20 is 90%.
	for n := 0; n < 6; n++ {
		st.observe(&cfg, austinHire(), &pb.StoredReport{ReceivedAt: timestamppb.New(t0), Report: shelf}, nil)
	}
	if n, shelfN := st.powerCounts(cfg.Power.Window); n != 20 || shelfN != 18 {
		t.Fatalf("ring holds %d samples, %d shelf; want 20 and 18", n, shelfN)
	}
	fires(t, "18 of 20 (exactly 90%)", shelfPattern, in(func(i *Input) { i.State = st }), true)
}

func TestHireRules(t *testing.T) {
	fires(t, "shipped to Phoenix", shippingMismatch, in(func(i *Input) {
		i.Hire.ShippingAddress = "1 W Main, Phoenix, AZ"
		i.Hire.Shipping = &pb.ClaimedHome{Place: "Phoenix, AZ, US", Latitude: 33.45, Longitude: -112.07}
	}), true)
	fires(t, "shipped in town", shippingMismatch, in(func(i *Input) {
		i.Hire.Shipping = &pb.ClaimedHome{Place: "Round Rock, TX, US", Latitude: 30.5083, Longitude: -97.6789}
	}), false)
	plus1 := fires(t, "+1 format", phoneFormat, in(func(i *Input) { i.Hire.Phone = "+1 (512) 555-0100" }), true)
	foreign := fires(t, "+82 for a US home", phoneFormat, in(func(i *Input) { i.Hire.Phone = "+82 10 5555 0100" }), true)
	if plus1 != nil && foreign != nil && !(foreign.GetWeight() > plus1.GetWeight()) {
		t.Errorf("foreign code weight %.2f not above +1 weight %.2f", foreign.GetWeight(), plus1.GetWeight())
	}
	fires(t, "domestic format", phoneFormat, in(nil), false)
	fires(t, "front company", highRiskInstitution, in(func(i *Input) {
		i.Hire.Institutions = []string{"Yanbian Silverstar Network Technology Co Ltd"}
	}), true)
	fires(t, "alias", highRiskInstitution, in(func(i *Input) { i.Hire.Institutions = []string{"Jinyong IT Cooperation Company"} }), true)
	fires(t, "ordinary university", highRiskInstitution, in(func(i *Input) { i.Hire.Institutions = []string{"University of Texas at Austin"} }), false)
	fires(t, "substring is not a match", highRiskInstitution, in(func(i *Input) { i.Hire.Institutions = []string{"Silverstar Dental"} }), false)
}

func TestScoreAndThresholds(t *testing.T) {
	cfg := DefaultConfig()
	if s := Score(cfg.Prior, nil); s >= cfg.AlertThreshold {
		t.Fatalf("no evidence scores %.3f, at or over the alert threshold", s)
	}
	ev := func(rules ...string) []*pb.Evidence {
		var out []*pb.Evidence
		for _, r := range rules {
			out = append(out, &pb.Evidence{Weight: cfg.Weights[r]})
		}
		return out
	}
	// One weak sign alone stays under review.
	for _, r := range []string{RuleRATPresent, RuleFarFromClaimed, RuleTZMismatch, RuleAnonymizer, RulePhoneFormat} {
		if s := Score(cfg.Prior, ev(r)); s >= cfg.ReviewThreshold {
			t.Errorf("%s alone scores %.2f, at or over review", r, s)
		}
	}
	// Combinations of the bad scenarios reach it.
	for _, combo := range [][]string{{RuleColocated}, {RuleRATPresent, RuleHighRiskPeer}, {RuleAnonymizer, RuleTZMismatch, RuleFarFromClaimed}, {RuleOffHours}} {
		if s := Score(cfg.Prior, ev(combo...)); s < cfg.ReviewThreshold {
			t.Errorf("%v scores %.2f, under review", combo, s)
		}
	}
	want := 1 / (1 + math.Exp(-(cfg.Prior + cfg.Weights[RuleRATPresent])))
	if got := Score(cfg.Prior, ev(RuleRATPresent)); math.Abs(got-want) > 1e-12 {
		t.Errorf("score %.6f, want %.6f", got, want)
	}
}
