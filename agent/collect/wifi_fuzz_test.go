package collect

import (
	"regexp"
	"testing"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

var wellFormedBSSID = regexp.MustCompile(`^[0-9a-f]{2}(:[0-9a-f]{2}){5}$`)

// checkWifi asserts what a report's Wifi promises whatever the input: a
// signal is unknown (0) or a radio's [-120, -1] dBm, a frequency is unknown
// or in a Wi-Fi band, the nearby list respects the cut, a BSSID is a
// lower-case individual MAC, withheld is one of its values.
func checkWifi(t *testing.T, from string, w *pb.Wifi) {
	t.Helper()
	signal := func(what string, v int32) {
		if v != 0 && (v < minSignalDBm || v > maxSignalDBm) {
			t.Errorf("%s: %s signal %d dBm", from, what, v)
		}
	}
	bssid := func(what, m string) {
		if m == "" {
			return
		}
		if _, ok := neighborMAC(m); !ok || !wellFormedBSSID.MatchString(m) {
			t.Errorf("%s: %s BSSID %q", from, what, m)
		}
	}
	signal("current", w.GetSignalDbm())
	bssid("current", w.GetBssid())
	if n := len(w.GetNearby()); n > maxNearby {
		t.Errorf("%s: %d nearby entries, cut is %d", from, n, maxNearby)
	}
	for _, b := range w.GetNearby() {
		signal("nearby", b.GetSignalDbm())
		bssid("nearby", b.GetBssid())
		if f := b.GetFrequencyMhz(); f != 0 && !wifiBandMHz(f) {
			t.Errorf("%s: nearby frequency %d MHz", from, f)
		}
	}
	switch w.GetWithheld() {
	case "", withheldLocation, withheldNotListed:
	default:
		t.Errorf("%s: withheld %q", from, w.GetWithheld())
	}
}

// FuzzWifi feeds the Wi-Fi parsers (nmcli, system_profiler AirPort, netsh
// interfaces and networks) the same bytes: none may panic, and each report
// they build keeps the Wifi invariants.
func FuzzWifi(f *testing.F) {
	addFixtureSeeds(f, "linux/commands/nmcli-wifi-list*.txt", "darwin/system_profiler-airport*.json",
		"windows/netsh-wlan-*.txt")
	f.Add([]byte(`*:AA\:BB\:CC\:DD\:EE\:FF:x:100:99999 MHz`))
	f.Add([]byte(`{"SPAirPortDataType":[{"spairport_airport_interfaces":[{"_name":"en0","spairport_status_information":"x",` +
		`"spairport_current_network_information":{"_name":"<redacted>","spairport_network_channel":"999 (6GHz)","spairport_signal_noise":"+30 dBm"}}]}]}`))
	f.Add([]byte("    GUID : x\r\n    SSID : a\r\n    AP BSSID : ff:ff:ff:ff:ff:ff\r\n    Rssi : -0\r\n    Signal : 999%\r\n    Channel : 4000000000\r\n"))
	f.Add([]byte("SSID 1 : a\r\n    BSSID 1 : 01:02:03:04:05:06\r\n    Signal : 0%\r\n    Band : 6 GHz\r\n    Channel : 99999\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		checkWifi(t, "nmcli", wifiFromScan(parseNmcliWifi(b), nmcliSignalNote))
		if w, err := parseSystemProfilerAirPort(b); err == nil {
			checkWifi(t, "system_profiler", w)
		}
		for _, in := range [][2][]byte{{b, b}, {b, nil}, {nil, b}} {
			if w, err := windowsWifi(in[0], in[1]); err == nil {
				checkWifi(t, "netsh", w)
			}
		}
	})
}
