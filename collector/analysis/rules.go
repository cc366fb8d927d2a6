package analysis

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/farmwatch/farmwatch/geo"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// Rule names, as DESIGN section 4 lists them.
const (
	RuleCountryMismatch   = "geo.country_mismatch"
	RuleFarFromClaimed    = "geo.far_from_claimed"
	RuleHighRiskPeer      = "geo.high_risk_peer"
	RuleImpossibleTravel  = "geo.impossible_travel"
	RuleAnonymizer        = "net.anonymizer"
	RuleColocated         = "net.colocated"
	RuleRATPresent        = "rat.present"
	RuleRemoteSession     = "rat.remote_session"
	RuleIPKVM             = "hw.ip_kvm"
	RuleJiggler           = "hw.jiggler"
	RuleTZMismatch        = "locale.tz_mismatch"
	RuleInputMethod       = "locale.input_method"
	RuleOffHours          = "activity.off_hours"
	RuleShelfPattern      = "power.shelf_pattern"
	RuleSilent            = "agent.silent"
	RuleShippingMismatch  = "hire.shipping_mismatch"
	RulePhoneFormat       = "hire.phone_format"
	RuleHighRiskInstitute = "hire.high_risk_institution"
)

// RuleNames lists every rule.
func RuleNames() []string {
	return []string{RuleCountryMismatch, RuleFarFromClaimed, RuleHighRiskPeer, RuleImpossibleTravel, RuleAnonymizer,
		RuleColocated, RuleRATPresent, RuleRemoteSession, RuleIPKVM, RuleJiggler, RuleTZMismatch, RuleInputMethod,
		RuleOffHours, RuleShelfPattern, RuleSilent, RuleShippingMismatch, RulePhoneFormat, RuleHighRiskInstitute}
}

// Input is what a rule sees: the hire's claims, the device's state before
// this report, and the report.
type Input struct {
	Hire   *pb.Hire
	Report *pb.StoredReport
	State  *DeviceState
	Config *Config
	Now    time.Time
}

// Rule inspects one report and returns evidence, or nil.
type Rule func(Input) *pb.Evidence

// reportRules run on every report, in this order. net.colocated (clusters)
// and agent.silent (a sweep) are evaluated by the engine.
var reportRules = []Rule{countryMismatch, farFromClaimed, highRiskPeer, impossibleTravel, anonymizer,
	ratPresent, remoteSession, ipKVM, jiggler, tzMismatch, inputMethod, offHours, shelfPattern,
	shippingMismatch, phoneFormat, highRiskInstitution}

func (in Input) evidence(rule, text string, facts map[string]string) *pb.Evidence {
	return &pb.Evidence{Rule: rule, Weight: in.Config.Weights[rule], Explanation: text, Facts: facts}
}

// located is the report's public-IP location when it says something about
// where the laptop is: geolocatable and not the company's own egress.
func (in Input) located() *pb.IPLocation {
	loc := in.Report.GetLocation()
	if !loc.GetGeolocatable() || in.Config.companyEgress(in.Report.GetPublicIp()) {
		return nil
	}
	return loc
}

func place(loc *pb.IPLocation) string {
	parts := []string{}
	for _, p := range []string{loc.GetCity(), loc.GetRegion(), loc.GetCountry()} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	if len(parts) == 0 {
		return "an unknown place"
	}
	return strings.Join(parts, ", ")
}

func hireName(h *pb.Hire) string {
	if h.GetName() != "" {
		return h.GetName()
	}
	return "the hire"
}

// countryMismatch: the public IP the collector saw is in another country
// than the claimed home.
func countryMismatch(in Input) *pb.Evidence {
	loc, home := in.located(), in.Hire.GetHome()
	if loc == nil || loc.GetCountry() == "" || home.GetCountry() == "" || strings.EqualFold(loc.GetCountry(), home.GetCountry()) {
		return nil
	}
	return in.evidence(RuleCountryMismatch,
		fmt.Sprintf("The laptop connects from %s (%s, AS%d %s) but %s claimed to live in %s.",
			in.Report.GetPublicIp(), place(loc), loc.GetAsn(), loc.GetAsOrg(), hireName(in.Hire), home.GetPlace()),
		map[string]string{"public_ip": in.Report.GetPublicIp(), "observed_country": loc.GetCountry(), "claimed_country": home.GetCountry()})
}

// farFromClaimed: the public IP is far from the claimed home even after
// giving the location its whole accuracy radius.
func farFromClaimed(in Input) *pb.Evidence {
	loc, home := in.located(), in.Hire.GetHome()
	if loc == nil || home == nil || (loc.GetLatitude() == 0 && loc.GetLongitude() == 0) || (home.GetLatitude() == 0 && home.GetLongitude() == 0) {
		return nil
	}
	far, dist, margin := geo.FarFromHome(geo.Place{Latitude: home.GetLatitude(), Longitude: home.GetLongitude()},
		geo.Location{Latitude: loc.GetLatitude(), Longitude: loc.GetLongitude(), HasCoords: true, AccuracyKM: loc.GetAccuracyKm()},
		in.Config.Geo.FarKM)
	if !far {
		return nil
	}
	return in.evidence(RuleFarFromClaimed,
		fmt.Sprintf("The laptop's public IP %s is in %s, %.0f km from the claimed home %s (at least %.0f km allowing the %.0f km accuracy radius).",
			in.Report.GetPublicIp(), place(loc), dist, home.GetPlace(), dist-loc.GetAccuracyKm(), loc.GetAccuracyKm()),
		map[string]string{"distance_km": fmt.Sprintf("%.0f", dist), "margin_km": fmt.Sprintf("%.0f", margin),
			"accuracy_km": fmt.Sprintf("%.0f", loc.GetAccuracyKm())})
}

// highRiskPeer: a remote-access connection's peer is in a high-risk country.
func highRiskPeer(in Input) *pb.Evidence {
	var peers []string
	facts := map[string]string{}
	for _, p := range in.Report.GetPeers() {
		c := p.GetLocation().GetCountry()
		if !in.Config.highRisk(c) || in.Config.toolAllowed(p.GetToolId()) {
			continue
		}
		peers = append(peers, fmt.Sprintf("%s in %s (%s, AS%d %s)", p.GetIp(), place(p.GetLocation()), p.GetToolId(),
			p.GetLocation().GetAsn(), p.GetLocation().GetAsOrg()))
		facts["peer."+p.GetIp()] = c
	}
	if len(peers) == 0 {
		return nil
	}
	sort.Strings(peers)
	return in.evidence(RuleHighRiskPeer, "A remote-access tool is connected to "+strings.Join(peers, "; ")+".", facts)
}

// impossibleTravel: the laptop moved between two located reports faster than
// travel allows.
func impossibleTravel(in Input) *pb.Evidence {
	loc, last := in.located(), in.State.Last
	if loc == nil || last == nil || (loc.GetLatitude() == 0 && loc.GetLongitude() == 0) {
		return nil
	}
	now := in.Report.GetReceivedAt().AsTime()
	dist := geo.DistanceKM(last.Lat, last.Lon, loc.GetLatitude(), loc.GetLongitude())
	if dist-last.AccuracyKM-loc.GetAccuracyKm() < in.Config.Geo.MinJumpKM {
		return nil
	}
	speed := geo.TravelSpeedKMH(last.Lat, last.Lon, last.At, loc.GetLatitude(), loc.GetLongitude(), now)
	if speed < in.Config.Geo.ImpossibleSpeedKMH {
		return nil
	}
	return in.evidence(RuleImpossibleTravel,
		fmt.Sprintf("The laptop was in %s (%s) at %s and in %s (%s) %s later: %.0f km, %.0f km/h.",
			last.Place, last.IP, last.At.UTC().Format(time.RFC3339), place(loc), in.Report.GetPublicIp(),
			now.Sub(last.At).Round(time.Minute), dist, speed),
		map[string]string{"from": last.IP, "to": in.Report.GetPublicIp(), "speed_kmh": fmt.Sprintf("%.0f", speed)})
}

// anonymizer: a VPN interface or client, or a public IP in a hosting or VPN
// network.
func anonymizer(in Input) *pb.Evidence {
	if in.Config.companyEgress(in.Report.GetPublicIp()) {
		return nil
	}
	r := in.Report.GetReport()
	var signs []string
	facts := map[string]string{}
	for _, i := range r.GetNetwork().GetInterfaces() {
		if i.GetKind() == "vpn" && i.GetUp() && !in.Config.companyVPNInterface(i.GetName()) {
			signs = append(signs, "VPN interface "+i.GetName())
			facts["interface."+i.GetName()] = "vpn"
		}
	}
	for _, v := range r.GetVpnClients() {
		signs = append(signs, "VPN client "+v.GetName())
		facts["vpn_client."+v.GetToolId()] = v.GetProcess()
	}
	if a := in.Report.GetLocation().GetAnonymizer(); a != "" {
		signs = append(signs, fmt.Sprintf("public IP %s in a %s network (AS%d %s)", in.Report.GetPublicIp(), a,
			in.Report.GetLocation().GetAsn(), in.Report.GetLocation().GetAsOrg()))
		facts["network"] = a
	}
	if len(signs) == 0 {
		return nil
	}
	return in.evidence(RuleAnonymizer, "The laptop hides its path: "+strings.Join(signs, "; ")+".", facts)
}

// ratPresent: a catalogued remote-access tool runs on the laptop.
func ratPresent(in Input) *pb.Evidence {
	var names []string
	facts := map[string]string{}
	for _, t := range in.Report.GetReport().GetRemoteAccess().GetTools() {
		if in.Config.toolAllowed(t.GetToolId()) {
			continue
		}
		desc := t.GetName()
		if n := len(t.GetConnections()); n > 0 {
			desc += fmt.Sprintf(" with %d connection(s)", n)
		}
		names = append(names, desc)
		facts["tool."+t.GetToolId()] = t.GetProcess()
	}
	if len(names) == 0 {
		return nil
	}
	var peers []string
	for _, p := range in.Report.GetPeers() {
		if in.Config.toolAllowed(p.GetToolId()) {
			continue
		}
		where := p.GetLocation().GetCountry()
		if where == "" {
			where = "unknown country"
		}
		peers = append(peers, fmt.Sprintf("%s (%s)", p.GetIp(), where))
		facts["peer."+p.GetIp()] = where
	}
	sort.Strings(names)
	text := fmt.Sprintf("Remote-access software is running: %s.", strings.Join(names, ", "))
	if len(peers) > 0 {
		sort.Strings(peers)
		text += " Connected to " + strings.Join(peers, ", ") + "."
	}
	return in.evidence(RuleRATPresent, text, facts)
}

// remoteSession: someone is in the laptop remotely right now: a remote login
// session, or a catalogued tool with an established connection to a public peer.
func remoteSession(in Input) *pb.Evidence {
	r := in.Report.GetReport()
	var signs []string
	for _, s := range r.GetRemoteAccess().GetSessions() {
		switch s.GetType() {
		case "rdp", "vnc", "ssh", "screen-sharing", "remote":
			d := s.GetType() + " session"
			if s.GetRemoteHost() != "" {
				d += " from " + s.GetRemoteHost()
			}
			signs = append(signs, d)
		}
	}
	for _, p := range in.Report.GetPeers() {
		if !in.Config.toolAllowed(p.GetToolId()) {
			signs = append(signs, fmt.Sprintf("%s connected to %s", p.GetToolId(), p.GetIp()))
		}
	}
	if len(signs) == 0 {
		return nil
	}
	sort.Strings(signs)
	return in.evidence(RuleRemoteSession, "A remote session is active: "+strings.Join(signs, "; ")+".",
		map[string]string{"sessions": fmt.Sprint(len(signs))})
}

// ipKVM: an IP-KVM is attached by USB, seen as a monitor, or on the LAN.
func ipKVM(in Input) *pb.Evidence {
	r := in.Report.GetReport()
	var signs []string
	factor := 0.0
	for _, u := range r.GetPeripherals().GetUsb() {
		if u.GetFlagged() == "ip-kvm" {
			signs = append(signs, fmt.Sprintf("USB %s:%s %q %q (%s)", u.GetVendorId(), u.GetProductId(), u.GetManufacturer(), u.GetProduct(), u.GetMatchReason()))
			factor = max(factor, confidenceFactor(u.GetConfidence()))
		}
	}
	for _, d := range r.GetPeripherals().GetDisplays() {
		if d.GetFlagged() == "ip-kvm" {
			signs = append(signs, fmt.Sprintf("display %q", d.GetName()))
			factor = max(factor, 1)
		}
	}
	for _, n := range r.GetNetwork().GetNeighbors() {
		if n.GetFlaggedVendor() != "" {
			signs = append(signs, fmt.Sprintf("LAN neighbour %s %s (%s)", n.GetIp(), n.GetMac(), n.GetFlaggedVendor()))
			factor = max(factor, 0.5)
		}
	}
	if len(signs) == 0 {
		return nil
	}
	ev := in.evidence(RuleIPKVM, "IP-KVM hardware: "+strings.Join(signs, "; ")+".", map[string]string{"signs": fmt.Sprint(len(signs))})
	ev.Weight *= factor
	return ev
}

func confidenceFactor(c string) float64 {
	switch c {
	case "high":
		return 1
	case "low":
		return 0.3
	default:
		return 0.5
	}
}

// jiggler: a mouse jiggler is attached.
func jiggler(in Input) *pb.Evidence {
	var signs []string
	for _, u := range in.Report.GetReport().GetPeripherals().GetUsb() {
		if u.GetFlagged() == "jiggler" {
			signs = append(signs, fmt.Sprintf("USB %s:%s %q (%s)", u.GetVendorId(), u.GetProductId(), u.GetProduct(), u.GetMatchReason()))
		}
	}
	if len(signs) == 0 {
		return nil
	}
	return in.evidence(RuleJiggler, "A mouse jiggler keeps the laptop awake: "+strings.Join(signs, "; ")+".", nil)
}

// tzMismatch: the device's UTC offset is not the claimed home's at the same
// instant (daylight saving included).
func tzMismatch(in Input) *pb.Evidence {
	l := in.Report.GetReport().GetLocale()
	home := in.Hire.GetHome()
	if l == nil || home.GetTimeZone() == "" || (l.GetTimeZone() == "" && l.GetUtcOffsetSeconds() == 0) {
		return nil
	}
	at := in.Report.GetReceivedAt().AsTime()
	homeLoc, err := loadLocation(home.GetTimeZone())
	if err != nil {
		return nil
	}
	_, homeOff := at.In(homeLoc).Zone()
	devOff := int(l.GetUtcOffsetSeconds())
	if l.GetTimeZone() != "" {
		if dl, err := loadLocation(l.GetTimeZone()); err == nil {
			_, devOff = at.In(dl).Zone()
		}
	}
	if devOff == homeOff {
		return nil
	}
	return in.evidence(RuleTZMismatch,
		fmt.Sprintf("The laptop's clock is set to %s (UTC%s) while the claimed home %s is at UTC%s.",
			orUnknown(l.GetTimeZone()), offset(devOff), home.GetPlace(), offset(homeOff)),
		map[string]string{"device_zone": l.GetTimeZone(), "device_offset": offset(devOff), "home_offset": offset(homeOff)})
}

func offset(sec int) string {
	sign := "+"
	if sec < 0 {
		sign, sec = "-", -sec
	}
	return fmt.Sprintf("%s%02d:%02d", sign, sec/3600, sec%3600/60)
}

func orUnknown(s string) string {
	if s == "" {
		return "an unnamed zone"
	}
	return s
}

// inputMethod: input methods of listed languages are installed.
func inputMethod(in Input) *pb.Evidence {
	l := in.Report.GetReport().GetLocale()
	var langs []string
	for _, lang := range l.GetInputLanguages() {
		if slices.Contains(in.Config.Locale.ForeignInputLanguages, lang) && !slices.Contains(langs, lang) {
			langs = append(langs, lang)
		}
	}
	if len(langs) == 0 {
		return nil
	}
	sort.Strings(langs)
	return in.evidence(RuleInputMethod,
		fmt.Sprintf("Input methods for %s are installed (%s).", strings.Join(langs, ", "), strings.Join(l.GetInputMethods(), ", ")),
		map[string]string{"languages": strings.Join(langs, ",")})
}

// offHours: over days, most local input falls in the claimed home's night.
func offHours(in Input) *pb.Evidence {
	s, a := in.State, in.Config.Activity
	span := s.LastSample.Sub(s.FirstSample)
	if s.ActiveSamples < uint32(a.MinActiveSamples) || s.FirstSample.IsZero() ||
		span < time.Duration(a.MinDays*24*float64(time.Hour)) {
		return nil
	}
	night := s.nightActive(a.NightStartHour, a.NightEndHour)
	frac := float64(night) / float64(s.ActiveSamples)
	if frac <= a.NightFraction {
		return nil
	}
	return in.evidence(RuleOffHours,
		fmt.Sprintf("%.0f%% of %d local-input samples over %.0f days fall between %02d:00 and %02d:00 in the claimed home's time zone (%s); peak hour %02d:00.",
			100*frac, s.ActiveSamples, span.Hours()/24, a.NightStartHour, a.NightEndHour,
			in.Hire.GetHome().GetTimeZone(), s.peakHour()),
		map[string]string{"night_fraction": fmt.Sprintf("%.2f", frac), "samples": fmt.Sprint(s.ActiveSamples)})
}

// shelfPattern: report after report on mains power, lid closed, nobody typing.
func shelfPattern(in Input) *pb.Evidence {
	n, shelf := in.State.powerCounts(in.Config.Power.Window)
	if n < in.Config.Power.MinSamples || float64(shelf) < in.Config.Power.ShelfFraction*float64(n) {
		return nil
	}
	return in.evidence(RuleShelfPattern,
		fmt.Sprintf("In %d of the last %d reports the laptop was on mains power with its lid closed and no local input: it sits on a shelf.", shelf, n),
		map[string]string{"shelf_reports": fmt.Sprint(shelf), "reports": fmt.Sprint(n)})
}

// shippingMismatch: the laptop was shipped far from the claimed home.
func shippingMismatch(in Input) *pb.Evidence {
	h := in.Hire
	ship, home := h.GetShipping(), h.GetHome()
	if ship == nil || home == nil {
		return nil
	}
	d := geo.DistanceKM(home.GetLatitude(), home.GetLongitude(), ship.GetLatitude(), ship.GetLongitude())
	if d <= in.Config.Hire.ShippingFarKM {
		return nil
	}
	return in.evidence(RuleShippingMismatch,
		fmt.Sprintf("The laptop was shipped to %s (%s), %.0f km from the claimed home %s.", h.GetShippingAddress(), ship.GetPlace(), d, home.GetPlace()),
		map[string]string{"distance_km": fmt.Sprintf("%.0f", d)})
}

// callingCodes of the countries whose numbers a hire might give; enough to
// tell a foreign number from a domestic one.
var callingCodes = map[string]string{"US": "1", "CA": "1", "GB": "44", "DE": "49", "FR": "33", "NL": "31", "PT": "351",
	"ES": "34", "IT": "39", "PL": "48", "UA": "380", "RU": "7", "CN": "86", "KP": "850", "KR": "82", "JP": "81",
	"IN": "91", "PK": "92", "VN": "84", "PH": "63", "LA": "856", "KH": "855", "MY": "60", "SG": "65", "TH": "66",
	"AE": "971", "NG": "234", "BR": "55", "MX": "52", "AU": "61", "IR": "98"}

// phoneFormat: "+1" formatting alone is a weak sign (DESIGN: it means nothing
// alone); a country code that is not the claimed home's weighs more.
func phoneFormat(in Input) *pb.Evidence {
	ph := strings.TrimSpace(in.Hire.GetPhone())
	if !strings.HasPrefix(ph, "+") {
		return nil
	}
	digits := strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, ph)
	home := in.Hire.GetHome().GetCountry()
	want := callingCodes[home]
	if want != "" && !strings.HasPrefix(digits, want) {
		ev := in.evidence(RulePhoneFormat,
			fmt.Sprintf("The phone number %s does not carry the claimed home country's code +%s.", ph, want),
			map[string]string{"phone": ph, "claimed_country": home})
		ev.Weight *= in.Config.Hire.PhoneMismatchFactor
		return ev
	}
	if !strings.HasPrefix(ph, "+1") {
		return nil
	}
	return in.evidence(RulePhoneFormat,
		fmt.Sprintf("The phone number is written in international form (%s), unusual for a domestic US applicant; weak alone.", ph),
		map[string]string{"phone": ph})
}

// highRiskInstitution: the record names a listed front company or institution.
func highRiskInstitution(in Input) *pb.Evidence {
	var hits []string
	facts := map[string]string{}
	for _, inst := range in.Hire.GetInstitutions() {
		if e, ok := matchInstitution(inst); ok {
			hits = append(hits, fmt.Sprintf("%q matches %s (%s)", inst, e.Name, e.Source))
			facts[inst] = e.Name
		}
	}
	if len(hits) == 0 {
		return nil
	}
	return in.evidence(RuleHighRiskInstitute, "The hire record lists "+strings.Join(hits, "; ")+".", facts)
}
