package collect

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// maxNearby bounds the nearby list: a dense apartment block can show a
// hundred BSSIDs, and the strongest are the ones that place the laptop.
const maxNearby = 40

// scanBSS is one BSS as an OS reports it.
type scanBSS struct {
	BSSID     string
	SSID      string
	SignalDBm int32
	FreqMHz   uint32
	Current   bool
}

// wifiFromScan builds the report's Wifi: the current BSS (if any) and the
// nearby list, strongest first, current included.
func wifiFromScan(list []scanBSS, note string) *pb.Wifi {
	w := &pb.Wifi{Note: note}
	seen := map[string]bool{}
	for _, b := range list {
		if b.Current && w.Bssid == "" && w.Ssid == "" {
			w.Ssid, w.Bssid, w.SignalDbm = b.SSID, b.BSSID, b.SignalDBm
		}
		key := b.BSSID
		if key == "" {
			key = b.SSID + "/" + strconv.Itoa(int(b.FreqMHz))
		}
		if seen[key] {
			continue
		}
		seen[key] = true
		w.Nearby = append(w.Nearby, &pb.BSS{Bssid: b.BSSID, Ssid: b.SSID, SignalDbm: b.SignalDBm, FrequencyMhz: b.FreqMHz})
	}
	sort.SliceStable(w.Nearby, func(i, j int) bool { return w.Nearby[i].GetSignalDbm() > w.Nearby[j].GetSignalDbm() })
	if len(w.Nearby) > maxNearby {
		w.Nearby = w.Nearby[:maxNearby]
	}
	return w
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
		if p, err := strconv.Atoi(strings.TrimSpace(f[3])); err == nil {
			sig = percentToDBm(p)
		}
		var freq uint32
		if n, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(f[4]), "MHz"))); err == nil && n > 0 {
			freq = uint32(n)
		}
		out = append(out, scanBSS{BSSID: bssid, SSID: ssid, SignalDBm: sig, FreqMHz: freq,
			Current: strings.TrimSpace(f[0]) == "*"})
	}
	return out
}

// macOS redaction notes.
const (
	darwinRedactedNote = "macOS redacts the SSID and BSSID unless the agent has Location Services " +
		"permission (macOS 14.4 and later); grant it with an MDM privacy profile"
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
// (spairport_network_bssid) and are absent on current macOS.
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
			v, _ := strconv.Atoi(m[1])
			s.SignalDBm = int32(v)
		}
		s.FreqMHz = darwinChannelMHz(n.Channel)
		return s
	}
	var list []scanBSS
	for _, item := range doc.Items {
		for _, ifc := range item.Interfaces {
			if ifc.Status == "" && ifc.Current == nil && ifc.Others == nil {
				continue // awdl0 and other entries that are not a Wi-Fi card
			}
			found = true
			if ifc.Current != nil {
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
	if redacted {
		notes = append(notes, darwinRedactedNote)
	}
	if noBSSID && len(list) > 0 {
		notes = append(notes, darwinNoBSSIDNote)
	}
	w := wifiFromScan(list, strings.Join(notes, "; "))
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
// language keeps: the words SSID and BSSID, "NN%" signal values, "N GHz"
// bands, MAC-shaped values, the GUID line of each interface; channel keys
// are matched in the languages listed.
var (
	netshPercent  = regexp.MustCompile(`^(\d{1,3})\s*%$`)
	netshBand     = regexp.MustCompile(`^([\d.,]+)\s*GHz$`)
	netshSSIDKey  = regexp.MustCompile(`^SSID(\s+\d+)?$`)
	netshBSSIDKey = regexp.MustCompile(`BSSID(\s+\d+)?$`)
	netshChannels = map[string]bool{"channel": true, "kanal": true, "canal": true, "canale": true,
		"kanaal": true, "kanał": true, "канал": true, "チャネル": true, "通道": true, "信道": true, "채널": true}
)

// netshWlanDenied is how netsh says Windows 11 24H2 withholds WLAN data
// without location consent: a link to the location settings page and the
// wlanapi function failing with error 5 (ERROR_ACCESS_DENIED).
var netshWlanDenied = regexp.MustCompile(`ms-settings:privacy-location|returns error 5\b`)

const windowsDeniedNote = "Windows withheld WLAN data (ERROR_ACCESS_DENIED): since Windows 11 24H2 " +
	"WLAN queries need location consent for the reading app"

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
// exists, and whether the OS denied the query.
func parseNetshInterfaces(b []byte) (cur []scanBSS, interfaces int, denied bool) {
	if netshWlanDenied.Match(b) {
		denied = true
	}
	var c *scanBSS
	var ch int
	var band float64
	flush := func() {
		if c != nil && (c.SSID != "" || c.BSSID != "") {
			c.FreqMHz = channelToMHz(ch, band)
			cur = append(cur, *c)
		}
		c, ch, band = nil, 0, 0
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
		case netshBSSIDKey.MatchString(k):
			if mac, ok := normalizeMAC(v); ok {
				c.BSSID = mac
			}
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
		c.SignalDBm = percentToDBm(p)
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
	note := ""
	if denied || deniedNearby {
		note = windowsDeniedNote
	}
	if len(cur) > 0 || len(nearby) > 0 {
		note = strings.TrimPrefix(note+"; signal from netsh percent, converted approximately as dBm = percent/2 - 100", "; ")
	}
	// The connected BSS also appears among the networks; mark it current there.
	for i := range nearby {
		for _, c := range cur {
			if c.BSSID != "" && nearby[i].BSSID == c.BSSID {
				nearby[i].Current = true
			}
		}
	}
	return wifiFromScan(append(cur, nearby...), note), nil
}
