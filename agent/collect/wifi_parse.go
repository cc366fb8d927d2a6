package collect

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// maxNearby bounds the nearby list: a dense apartment block can show a
// hundred BSSIDs, and the strongest are the ones that place the laptop.
const maxNearby = 40

// scanBSS is one BSS as an OS reports it. SignalDBm 0 means the OS gave no
// signal: unknown, never "0 dBm".
type scanBSS struct {
	BSSID     string
	SSID      string
	SignalDBm int32
	FreqMHz   uint32
	Current   bool
	// Approx is set when the signal was converted from a percentage.
	Approx bool
}

// Why a report carries no BSSIDs (Wifi.withheld).
const (
	withheldLocation  = "location_permission"
	withheldNotListed = "not_listed"
)

// Bounds of a signal in dBm that a radio can report: anything else is a
// parsing accident and becomes unknown.
const (
	minSignalDBm = -120
	maxSignalDBm = -1
)

// signalDBm keeps a signal within what a radio reports, 0 (unknown) otherwise.
func signalDBm(v int64) int32 {
	if v < minSignalDBm || v > maxSignalDBm {
		return 0
	}
	return int32(v)
}

// wifiBandMHz tells a centre frequency in a Wi-Fi band (802.11ah sub-1 GHz,
// 2.4 GHz, 802.11y 3.65 GHz, 4.9/5 GHz, 6 GHz, 802.11ad/ay 60 GHz).
func wifiBandMHz(f uint32) bool {
	switch {
	case f >= 755 && f <= 928, f >= 2400 && f <= 2500, f >= 3655 && f <= 3695,
		f >= 4910 && f <= 5925, f >= 5935 && f <= 7125, f >= 57240 && f <= 70200:
		return true
	}
	return false
}

// wifiFromScan builds the report's Wifi: the first current BSS (if any) and
// the nearby list, strongest first, current included; entries of unknown
// signal come after every known one, so the cut never keeps them first.
func wifiFromScan(list []scanBSS, note string) *pb.Wifi {
	w := &pb.Wifi{Note: note}
	seen := map[string]bool{}
	haveCurrent := false
	for _, b := range list {
		if mac, ok := neighborMAC(b.BSSID); ok {
			b.BSSID = mac
		} else {
			b.BSSID = "" // all zeros or a group address names no access point
		}
		b.SignalDBm = signalDBm(int64(b.SignalDBm))
		if !wifiBandMHz(b.FreqMHz) {
			b.FreqMHz = 0
		}
		if b.Current && !haveCurrent {
			haveCurrent = true
			w.Ssid, w.Bssid, w.SignalDbm = b.SSID, b.BSSID, b.SignalDBm
		}
		// Only a BSSID names one radio: networks listed without one (macOS,
		// SSIDs redacted) may share SSID and channel and are still distinct.
		if b.BSSID != "" {
			if seen[b.BSSID] {
				continue
			}
			seen[b.BSSID] = true
		}
		w.Nearby = append(w.Nearby, &pb.BSS{Bssid: b.BSSID, Ssid: b.SSID, SignalDbm: b.SignalDBm, FrequencyMhz: b.FreqMHz})
	}
	sort.SliceStable(w.Nearby, func(i, j int) bool {
		return signalOrder(w.Nearby[i].GetSignalDbm()) > signalOrder(w.Nearby[j].GetSignalDbm())
	})
	if len(w.Nearby) > maxNearby {
		w.Nearby = w.Nearby[:maxNearby]
	}
	return w
}

// signalOrder ranks a signal for sorting: unknown (0) below every real value.
func signalOrder(dbm int32) int32 {
	if dbm == 0 {
		return math.MinInt32
	}
	return dbm
}

// percentToDBm turns a 0-100 % signal quality (nmcli, netsh) into dBm with
// the usual linear approximation dBm = percent/2 - 100 (100 % = -50 dBm,
// 0 % = -100 dBm). It is approximate: drivers map RSSI to percent their own
// way.
func percentToDBm(p int) int32 {
	p = max(0, min(100, p))
	return int32(p/2 - 100)
}

// channelToMHz converts an 802.11 channel to its centre frequency; band is
// the band in GHz when the OS names it (2.4, 5, 6), 0 when it does not, in
// which case channels 1-14 are 2.4 GHz and the rest 5 GHz.
func channelToMHz(ch int, band float64) uint32 {
	switch {
	case ch <= 0:
		return 0
	case band == 6:
		return uint32(5950 + 5*ch)
	case ch == 14 && band != 5:
		return 2484
	case ch <= 13 && band != 5:
		return uint32(2407 + 5*ch)
	default:
		return uint32(5000 + 5*ch)
	}
}

// nmcliFields splits an `nmcli -t` line on unescaped colons and unescapes
// "\:" and "\\" inside values.
func nmcliFields(line string) []string {
	var out []string
	var cur strings.Builder
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == '\\' && i+1 < len(line):
			i++
			cur.WriteByte(line[i])
		case c == ':':
			out = append(out, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	return append(out, cur.String())
}

// nmcliSignalNote says where nmcli-derived signal values come from.
const nmcliSignalNote = "signal from nmcli percent, converted approximately as dBm = percent/2 - 100"

// parseNmcliWifi reads `nmcli -t -f IN-USE,BSSID,SSID,SIGNAL,FREQ dev wifi
// list --rescan no`:
//
//	*:A4\:2B\:B0\:C1\:7E\:03:HomeNet:92:5180 MHz
func parseNmcliWifi(b []byte) []scanBSS {
	var out []scanBSS
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := nmcliFields(sc.Text())
		if len(f) != 5 {
			continue
		}
		bssid, ok := normalizeMAC(f[1])
		if !ok {
			continue
		}
		ssid := f[2]
		if ssid == "--" {
			ssid = "" // hidden network
		}
		var sig int32
		approx := false
		if p, err := strconv.Atoi(strings.TrimSpace(f[3])); err == nil {
			sig, approx = percentToDBm(p), true
		}
		var freq uint32
		if n, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(f[4]), "MHz"))); err == nil && n > 0 {
			freq = uint32(n)
		}
		out = append(out, scanBSS{BSSID: bssid, SSID: ssid, SignalDBm: sig, FreqMHz: freq,
			Current: strings.TrimSpace(f[0]) == "*", Approx: approx})
	}
	return out
}

// macOS redaction notes.
const (
	darwinRedactedNote = "macOS redacts the SSID and BSSID unless the agent has Location Services " +
		"permission (macOS 14.4 and later), which only the user can grant in System Settings: no MDM profile can"
	darwinNoBSSIDNote = "system_profiler lists nearby networks without BSSIDs; the airport tool " +
		"was removed in macOS 14.4 and wdutil needs root"
)

var (
	dbmPattern     = regexp.MustCompile(`(-?\d+)\s*dBm`)
	channelPattern = regexp.MustCompile(`^(\d+)(?:\s*\(([\d.]+)\s*GHz)?`)
)

// parseSystemProfilerAirPort reads `system_profiler SPAirPortDataType -json`.
// Each Wi-Fi interface carries spairport_current_network_information (its
// "_name" is the SSID, "<redacted>" without Location Services) and
// spairport_airport_other_local_wireless_networks; signal comes as
// "-52 dBm / -94 dBm" (signal / noise), channel as "36 (5GHz, 80MHz)" (or a
// bare number before macOS 13). BSSIDs are taken where present
// (spairport_network_bssid) and are absent on current macOS. Other entries
// (awdl0, llw0) are not a Wi-Fi card: on macOS 26 awdl0 carries a current
// network stub with neither name, channel nor signal, which is skipped.
func parseSystemProfilerAirPort(b []byte) (*pb.Wifi, error) {
	type network struct {
		Name    string          `json:"_name"`
		BSSID   string          `json:"spairport_network_bssid"`
		Channel json.RawMessage `json:"spairport_network_channel"`
		Signal  string          `json:"spairport_signal_noise"`
	}
	var doc struct {
		Items []struct {
			Interfaces []struct {
				Name    string    `json:"_name"`
				Status  string    `json:"spairport_status_information"`
				Current *network  `json:"spairport_current_network_information"`
				Others  []network `json:"spairport_airport_other_local_wireless_networks"`
			} `json:"spairport_airport_interfaces"`
		} `json:"SPAirPortDataType"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("system_profiler SPAirPortDataType: %w", err)
	}
	stub := func(n *network) bool {
		return n == nil || (n.Name == "" && n.Signal == "" && len(n.Channel) == 0 && n.BSSID == "")
	}
	redacted, noBSSID, found := false, false, false
	convert := func(n network, current bool) scanBSS {
		s := scanBSS{SSID: n.Name, Current: current}
		if s.SSID == "<redacted>" {
			s.SSID, redacted = "", true
		}
		if mac, ok := normalizeMAC(n.BSSID); ok {
			s.BSSID = mac
		} else {
			noBSSID = true
		}
		if m := dbmPattern.FindStringSubmatch(n.Signal); m != nil {
			v, _ := strconv.ParseInt(m[1], 10, 64)
			s.SignalDBm = signalDBm(v)
		}
		s.FreqMHz = darwinChannelMHz(n.Channel)
		return s
	}
	var list []scanBSS
	for _, item := range doc.Items {
		for _, ifc := range item.Interfaces {
			if ifc.Status == "" && stub(ifc.Current) && ifc.Others == nil {
				continue // awdl0 and other entries that are not a Wi-Fi card
			}
			found = true
			if !stub(ifc.Current) {
				list = append(list, convert(*ifc.Current, true))
			}
			for _, o := range ifc.Others {
				list = append(list, convert(o, false))
			}
		}
	}
	if !found {
		return nil, errNoWifi
	}
	var notes []string
	withheld := ""
	if noBSSID && len(list) > 0 {
		withheld = withheldNotListed
	}
	if redacted {
		notes = append(notes, darwinRedactedNote)
		withheld = withheldLocation
	}
	if noBSSID && len(list) > 0 {
		notes = append(notes, darwinNoBSSIDNote)
	}
	w := wifiFromScan(list, strings.Join(notes, "; "))
	w.Withheld = withheld
	return w, nil
}

// darwinChannelMHz reads spairport_network_channel, a string such as
// "149 (5GHz, 80MHz)" or a bare number.
func darwinChannelMHz(raw json.RawMessage) uint32 {
	if len(raw) == 0 {
		return 0
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		var n int
		if err := json.Unmarshal(raw, &n); err != nil {
			return 0
		}
		return channelToMHz(n, 0)
	}
	m := channelPattern.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return 0
	}
	ch, _ := strconv.Atoi(m[1])
	band, _ := strconv.ParseFloat(m[2], 64)
	return channelToMHz(ch, band)
}

// Windows netsh output. Keys are translated with the display language and
// the text is in the OEM code page, so the parsers key on what every
// language keeps: the words SSID, BSSID and Rssi, "NN%" signal values,
// "N GHz" bands, MAC-shaped values, the GUID line of each interface; channel
// keys are matched in the languages listed.
var (
	netshPercent  = regexp.MustCompile(`^(\d{1,3})\s*%$`)
	netshBand     = regexp.MustCompile(`^([\d.,]+)\s*GHz$`)
	netshRssi     = regexp.MustCompile(`^-\d{1,3}$`)
	netshSSIDKey  = regexp.MustCompile(`^SSID(\s+\d+)?$`)
	netshBSSIDKey = regexp.MustCompile(`BSSID(\s+\d+)?$`)
	// The connected AP's BSSID: "AP BSSID" (English since Windows 11),
	// "AP-BSSID" (German), "BSSID точки доступа" (Russian); older releases
	// say plain "BSSID".
	netshAPBSSIDKey = regexp.MustCompile(`(^|[\s-])BSSID([\s-]|$)`)
	netshChannels   = map[string]bool{"channel": true, "kanal": true, "canal": true, "canale": true,
		"kanaal": true, "kanał": true, "канал": true, "チャネル": true, "通道": true, "信道": true, "채널": true}
)

// netshWlanDenied is how netsh says Windows 11 24H2 withholds WLAN data
// without location consent: a link to the location settings page and the
// wlanapi function failing with error 5 (ERROR_ACCESS_DENIED).
var netshWlanDenied = regexp.MustCompile(`ms-settings:privacy-location|returns error 5\b`)

const (
	windowsDeniedNote = "Windows withheld WLAN data (ERROR_ACCESS_DENIED): since Windows 11 24H2 " +
		"WLAN queries need location consent for the reading app"
	netshPercentNote = "signal from netsh percent, converted approximately as dBm = percent/2 - 100"
)

func netshKV(line string) (key, value string, ok bool) {
	k, v, ok := strings.Cut(line, ":")
	if !ok {
		return "", "", false
	}
	return strings.TrimSpace(k), strings.TrimSpace(v), true
}

// netshBandGHz reads "5 GHz", "2,4 GHz".
func netshBandGHz(v string) (float64, bool) {
	m := netshBand.FindStringSubmatch(v)
	if m == nil {
		return 0, false
	}
	f, err := strconv.ParseFloat(strings.ReplaceAll(m[1], ",", "."), 64)
	return f, err == nil
}

// parseNetshInterfaces reads `netsh wlan show interfaces` and returns the
// connected BSS of each interface (Current set), whether any Wi-Fi interface
// exists, and whether the OS denied the query. Windows 11 24H2 prints the
// RSSI in dBm ("Rssi : -63") beside the percentage: it is taken over the
// percentage, which is only a driver's mapping of it. Where a block names
// both the AP's BSSID ("AP BSSID") and a plain "BSSID", the AP's wins.
func parseNetshInterfaces(b []byte) (cur []scanBSS, interfaces int, denied bool) {
	if netshWlanDenied.Match(b) {
		denied = true
	}
	var c *scanBSS
	var ch int
	var band float64
	var rssi, apBSSID bool
	flush := func() {
		if c != nil && (c.SSID != "" || c.BSSID != "") {
			c.FreqMHz = channelToMHz(ch, band)
			cur = append(cur, *c)
		}
		c, ch, band, rssi, apBSSID = nil, 0, 0, false, false
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := netshKV(sc.Text())
		if !ok {
			continue
		}
		if k == "GUID" {
			flush()
			interfaces++
			c = &scanBSS{Current: true}
			continue
		}
		if c == nil {
			continue
		}
		switch {
		case netshSSIDKey.MatchString(k):
			c.SSID = v
		case netshAPBSSIDKey.MatchString(k):
			mac, ok := normalizeMAC(v)
			if !ok {
				continue
			}
			if k != "BSSID" {
				c.BSSID, apBSSID = mac, true
			} else if !apBSSID {
				c.BSSID = mac
			}
		case strings.EqualFold(k, "rssi") && netshRssi.MatchString(v):
			n, _ := strconv.ParseInt(v, 10, 64)
			if dbm := signalDBm(n); dbm != 0 {
				c.SignalDBm, c.Approx, rssi = dbm, false, true
			}
		case rssi && netshPercent.MatchString(v):
			// The RSSI already gave the signal in dBm.
		default:
			netshRadio(k, v, c, &ch, &band)
		}
	}
	flush()
	return cur, interfaces, denied
}

// netshRadio reads a signal, channel or band line of a netsh block (both
// netsh outputs write them alike) into c, ch and band.
func netshRadio(k, v string, c *scanBSS, ch *int, band *float64) {
	switch {
	case netshPercent.MatchString(v):
		p, _ := strconv.Atoi(netshPercent.FindStringSubmatch(v)[1])
		c.SignalDBm, c.Approx = percentToDBm(p), true
	case netshChannels[strings.ToLower(k)]:
		*ch, _ = strconv.Atoi(v)
	default:
		if f, ok := netshBandGHz(v); ok {
			*band = f
		}
	}
}

// parseNetshNetworks reads `netsh wlan show networks mode=bssid`: "SSID n"
// blocks, each with "BSSID n" sub-blocks carrying signal, band and channel.
func parseNetshNetworks(b []byte) (list []scanBSS, denied bool) {
	denied = netshWlanDenied.Match(b)
	ssid := ""
	var c *scanBSS
	var ch int
	var band float64
	flush := func() {
		if c != nil {
			c.FreqMHz = channelToMHz(ch, band)
			list = append(list, *c)
		}
		c, ch, band = nil, 0, 0
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := netshKV(sc.Text())
		if !ok {
			continue
		}
		switch {
		case netshSSIDKey.MatchString(k):
			flush()
			ssid = v
		case netshBSSIDKey.MatchString(k):
			flush()
			if mac, ok := normalizeMAC(v); ok {
				c = &scanBSS{BSSID: mac, SSID: ssid}
			}
		case c == nil:
		default:
			netshRadio(k, v, c, &ch, &band)
		}
	}
	flush()
	return list, denied
}

// windowsWifi combines the two netsh outputs.
func windowsWifi(interfacesOut, networksOut []byte) (*pb.Wifi, error) {
	cur, n, denied := parseNetshInterfaces(interfacesOut)
	nearby, deniedNearby := parseNetshNetworks(networksOut)
	if n == 0 && !denied && len(nearby) == 0 {
		return nil, errNoWifi
	}
	var notes []string
	if denied || deniedNearby {
		notes = append(notes, windowsDeniedNote)
	}
	for _, b := range append(cur, nearby...) {
		if b.Approx {
			notes = append(notes, netshPercentNote)
			break
		}
	}
	// The connected BSS also appears among the networks; mark it current there.
	for i := range nearby {
		for _, c := range cur {
			if c.BSSID != "" && nearby[i].BSSID == c.BSSID {
				nearby[i].Current = true
			}
		}
	}
	w := wifiFromScan(append(cur, nearby...), strings.Join(notes, "; "))
	if denied || deniedNearby {
		w.Withheld = withheldLocation
	}
	return w, nil
}
