package collect

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

func bss(bssid, ssid string, dbm int32, mhz uint32) *pb.BSS {
	return &pb.BSS{Bssid: bssid, Ssid: ssid, SignalDbm: dbm, FrequencyMhz: mhz}
}

func equalWifi(t *testing.T, got, want *pb.Wifi) {
	t.Helper()
	if !proto.Equal(got, want) {
		t.Errorf("got  %v\nwant %v", got, want)
	}
}

func TestPercentToDBm(t *testing.T) {
	for in, want := range map[int]int32{100: -50, 92: -54, 50: -75, 1: -100, 0: -100, -5: -100, 140: -50} {
		if got := percentToDBm(in); got != want {
			t.Errorf("percentToDBm(%d) = %d, want %d", in, got, want)
		}
	}
}

func TestChannelToMHz(t *testing.T) {
	tests := []struct {
		ch   int
		band float64
		want uint32
	}{
		{1, 0, 2412}, {6, 2.4, 2437}, {13, 0, 2472}, {14, 0, 2484}, {36, 0, 5180}, {36, 5, 5180},
		{149, 0, 5745}, {37, 6, 6135}, {1, 6, 5955}, {0, 0, 0}, {-1, 5, 0},
	}
	for _, tt := range tests {
		if got := channelToMHz(tt.ch, tt.band); got != tt.want {
			t.Errorf("channelToMHz(%d, %v) = %d, want %d", tt.ch, tt.band, got, tt.want)
		}
	}
}

func TestNmcliFields(t *testing.T) {
	tests := map[string][]string{
		`*:A4\:2B\:B0\:C1\:7E\:03:HomeNet:92:5180 MHz`: {"*", "A4:2B:B0:C1:7E:03", "HomeNet", "92", "5180 MHz"},
		`a\\b:c`: {`a\b`, "c"},
		`::`:     {"", "", ""},
		``:       {""},
		`trail\`: {`trail\`},
	}
	for in, want := range tests {
		if got := nmcliFields(in); strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("nmcliFields(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseNmcliWifi(t *testing.T) {
	list := parseNmcliWifi(testdataFile(t, "linux", "commands/nmcli-wifi-list.txt"))
	equalWifi(t, wifiFromScan(list, nmcliSignalNote), &pb.Wifi{
		Ssid: "HomeNet", Bssid: "a4:2b:b0:c1:7e:03", SignalDbm: -54, Note: nmcliSignalNote,
		Nearby: []*pb.BSS{
			bss("a4:2b:b0:c1:7e:03", "HomeNet", -54, 5180),
			bss("a4:2b:b0:c1:7e:02", "HomeNet", -65, 2437),
			bss("30:52:53:0a:09:88", "Cafe:Guest", -78, 2412),
			bss("b6:b0:24:e3:e5:6c", "", -85, 2462),
			bss("58:cf:e2:67:58:e1", `back\slash`, -98, 6135),
		}})
	bad := parseNmcliWifi([]byte("not:enough\n*:zz\\:zz:X:1:2 MHz\n :--:--:x:y\n"))
	if len(bad) != 0 {
		t.Errorf("malformed lines parsed: %v", bad)
	}
	hidden := parseNmcliWifi([]byte(" :AA\\:BB\\:CC\\:DD\\:EE\\:FF:--:50:\n"))
	if len(hidden) != 1 || hidden[0].SSID != "" || hidden[0].FreqMHz != 0 || hidden[0].Current {
		t.Errorf("hidden network without frequency: %+v", hidden)
	}
}

func TestWifiFromScanDedupAndCap(t *testing.T) {
	var list []scanBSS
	list = append(list, scanBSS{BSSID: "aa:aa:aa:aa:aa:01", SSID: "x", SignalDBm: -40, Current: true})
	list = append(list, scanBSS{BSSID: "aa:aa:aa:aa:aa:01", SSID: "x", SignalDBm: -41})
	for i := range maxNearby + 10 {
		list = append(list, scanBSS{BSSID: "bb:bb:bb:bb:bb:" + string("0123456789abcdef"[i%16]) + string("0123456789abcdef"[i/16]), SignalDBm: int32(-60 - i)})
	}
	w := wifiFromScan(list, "")
	if len(w.GetNearby()) != maxNearby || w.GetNearby()[0].GetSignalDbm() != -40 || w.GetBssid() != "aa:aa:aa:aa:aa:01" {
		t.Errorf("nearby %d, first %v, current %q", len(w.GetNearby()), w.GetNearby()[0], w.GetBssid())
	}
	if empty := wifiFromScan(nil, ""); empty.GetSsid() != "" || len(empty.GetNearby()) != 0 {
		t.Errorf("empty scan: %v", empty)
	}
}

func TestParseSystemProfilerAirPort(t *testing.T) {
	t.Run("redacted without Location Services", func(t *testing.T) {
		w, err := parseSystemProfilerAirPort(testdataFile(t, "darwin", "system_profiler-airport-redacted.json"))
		if err != nil {
			t.Fatal(err)
		}
		equalWifi(t, w, &pb.Wifi{SignalDbm: -52, Note: darwinRedactedNote + "; " + darwinNoBSSIDNote, Withheld: withheldLocation,
			Nearby: []*pb.BSS{bss("", "", -52, 5180), bss("", "", -71, 2437), bss("", "", -80, 5745)}})
	})
	t.Run("with Location Services and a BSSID", func(t *testing.T) {
		w, err := parseSystemProfilerAirPort(testdataFile(t, "darwin", "system_profiler-airport-located.json"))
		if err != nil {
			t.Fatal(err)
		}
		equalWifi(t, w, &pb.Wifi{Ssid: "HomeNet", Bssid: "a4:2b:b0:c1:7e:03", SignalDbm: -48, Note: darwinNoBSSIDNote, Withheld: withheldNotListed,
			Nearby: []*pb.BSS{bss("a4:2b:b0:c1:7e:03", "HomeNet", -48, 5180), bss("", "Neighbor-2.4", -77, 2462)}})
	})
	t.Run("Wi-Fi off", func(t *testing.T) {
		w, err := parseSystemProfilerAirPort(testdataFile(t, "darwin", "system_profiler-airport-off.json"))
		if err != nil || w.GetSsid() != "" || len(w.GetNearby()) != 0 || w.GetNote() != "" {
			t.Errorf("got %v, %v; want an empty Wifi", w, err)
		}
	})
	t.Run("no Wi-Fi card", func(t *testing.T) {
		if _, err := parseSystemProfilerAirPort([]byte(`{"SPAirPortDataType":[{"spairport_airport_interfaces":[{"_name":"awdl0"}]}]}`)); !errors.Is(err, errNoWifi) {
			t.Errorf("err = %v, want errNoWifi", err)
		}
		if _, err := parseSystemProfilerAirPort([]byte(`{"SPAirPortDataType":[]}`)); !errors.Is(err, errNoWifi) {
			t.Errorf("empty list: err = %v, want errNoWifi", err)
		}
	})
	t.Run("bare channel numbers and junk", func(t *testing.T) {
		w, err := parseSystemProfilerAirPort([]byte(`{"SPAirPortDataType":[{"spairport_airport_interfaces":[{"_name":"en0",
			"spairport_current_network_information":{"_name":"Old","spairport_network_channel":11,"spairport_signal_noise":"n/a"},
			"spairport_airport_other_local_wireless_networks":[{"_name":"X","spairport_network_channel":"wide"},{"_name":"Y","spairport_network_channel":true}]}]}]}`))
		if err != nil {
			t.Fatal(err)
		}
		if w.GetSsid() != "Old" || w.GetNearby()[0].GetFrequencyMhz() != 2462 || w.GetSignalDbm() != 0 {
			t.Errorf("got %v", w)
		}
	})
	if _, err := parseSystemProfilerAirPort([]byte("system_profiler: error")); err == nil {
		t.Error("invalid JSON accepted")
	}
}

const netshNote = "signal from netsh percent, converted approximately as dBm = percent/2 - 100"

func TestWindowsWifi(t *testing.T) {
	ifs := testdataFile(t, "windows", "netsh-wlan-show-interfaces.txt")
	nets := testdataFile(t, "windows", "netsh-wlan-show-networks.txt")
	denied := testdataFile(t, "windows", "netsh-wlan-denied.txt")
	tests := []struct {
		name      string
		ifs, nets []byte
		want      *pb.Wifi
		wantErr   error
	}{
		{name: "English, Windows 11 23H2", ifs: ifs, nets: nets, want: &pb.Wifi{
			Ssid: "HomeNet", Bssid: "a4:2b:b0:c1:7e:03", SignalDbm: -54, Note: netshNote,
			Nearby: []*pb.BSS{
				bss("a4:2b:b0:c1:7e:03", "HomeNet", -54, 5180),
				bss("a4:2b:b0:c1:7e:02", "HomeNet", -65, 2437),
				bss("58:cf:e2:67:58:e1", "Neighbor 6E", -80, 6135),
				bss("b6:b0:24:e3:e5:6c", "", -85, 2462),
			}}},
		{name: "German", ifs: testdataFile(t, "windows", "netsh-wlan-show-interfaces-de.txt"),
			nets: testdataFile(t, "windows", "netsh-wlan-show-networks-de.txt"), want: &pb.Wifi{
				Ssid: "Zuhause", Bssid: "94:83:c4:12:ab:01", SignalDbm: -70, Note: netshNote,
				Nearby: []*pb.BSS{
					bss("94:83:c4:12:ab:01", "Zuhause", -70, 2437),
					bss("3c:a6:2f:01:02:03", "Nachbar", -90, 2412),
				}}},
		{name: "24H2 without location consent: both denied", ifs: denied, nets: denied,
			want: &pb.Wifi{Note: windowsDeniedNote, Withheld: withheldLocation}},
		{name: "24H2: interfaces shown, networks denied", ifs: ifs, nets: denied, want: &pb.Wifi{
			Ssid: "HomeNet", Bssid: "a4:2b:b0:c1:7e:03", SignalDbm: -54, Note: windowsDeniedNote + "; " + netshNote, Withheld: withheldLocation,
			Nearby: []*pb.BSS{bss("a4:2b:b0:c1:7e:03", "HomeNet", -54, 5180)}}},
		{name: "disconnected: nearby only", ifs: testdataFile(t, "windows", "netsh-wlan-show-interfaces-disconnected.txt"),
			nets: []byte("Interface name : Wi-Fi\r\nThere are 0 networks currently visible.\r\n"), want: &pb.Wifi{}},
		{name: "no wireless interface", ifs: testdataFile(t, "windows", "netsh-wlan-none.txt"),
			nets: testdataFile(t, "windows", "netsh-wlan-none.txt"), wantErr: errNoWifi},
		{name: "netsh missing", wantErr: errNoWifi},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := windowsWifi(tt.ifs, tt.nets)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if tt.want != nil {
				equalWifi(t, got, tt.want)
			}
		})
	}
}

func TestParseNetshInterfacesCounts(t *testing.T) {
	two := string(testdataFile(t, "windows", "netsh-wlan-show-interfaces.txt")) +
		string(testdataFile(t, "windows", "netsh-wlan-show-interfaces-disconnected.txt"))
	cur, n, denied := parseNetshInterfaces([]byte(two))
	if n != 2 || len(cur) != 1 || denied || cur[0].FreqMHz != 5180 {
		t.Errorf("got %v %d %v, want one connected of two", cur, n, denied)
	}
}

// macOS 26 lists awdl0 with a current-network stub (no name, channel or
// signal) after en0: it is not a second current network.
func TestParseSystemProfilerAirPortAwdlStub(t *testing.T) {
	w, err := parseSystemProfilerAirPort(testdataFile(t, "darwin", "system_profiler-airport_26_awdl0-current-stub.json"))
	if err != nil {
		t.Fatal(err)
	}
	equalWifi(t, w, &pb.Wifi{SignalDbm: -52, Note: darwinRedactedNote + "; " + darwinNoBSSIDNote, Withheld: withheldLocation,
		Nearby: []*pb.BSS{bss("", "", -52, 5220), bss("", "", -68, 2437), bss("", "", -81, 6135)}})
}

// Without Location Services every SSID is "<redacted>" and no BSSID is given:
// networks sharing a channel (even at one level) stay distinct, and one
// listed without a signal is unknown, sorted last and cut first.
func TestParseSystemProfilerAirPortDenseRedacted(t *testing.T) {
	w, err := parseSystemProfilerAirPort(testdataFile(t, "darwin", "system_profiler-airport_15_redacted-dense-nosignal.json"))
	if err != nil {
		t.Fatal(err)
	}
	if w.GetSignalDbm() != -55 || w.GetWithheld() != withheldLocation {
		t.Errorf("current signal %d, withheld %q", w.GetSignalDbm(), w.GetWithheld())
	}
	nb := w.GetNearby()
	if len(nb) != maxNearby {
		t.Fatalf("%d nearby entries, want the cut's %d: %v", len(nb), maxNearby, nb)
	}
	ch6 := 0
	for i, b := range nb {
		if b.GetSignalDbm() == 0 {
			t.Errorf("entry %d of unknown signal survived the cut: %v", i, b)
		}
		if i > 0 && b.GetSignalDbm() > nb[i-1].GetSignalDbm() {
			t.Errorf("entry %d (%d dBm) sorted after a weaker one (%d dBm)", i, b.GetSignalDbm(), nb[i-1].GetSignalDbm())
		}
		if b.GetFrequencyMhz() == 2437 {
			ch6++
		}
	}
	if nb[0].GetSignalDbm() != -55 || nb[maxNearby-1].GetSignalDbm() != -98 {
		t.Errorf("strongest %d, weakest kept %d; want -55 and -98", nb[0].GetSignalDbm(), nb[maxNearby-1].GetSignalDbm())
	}
	// Networks 1, 6, 11, ... 36 of the fixture are on channel 6 (two at -61 dBm).
	if ch6 != 8 {
		t.Errorf("%d entries on channel 6 kept, want 8", ch6)
	}
}

func TestWifiFromScanUnknownSignal(t *testing.T) {
	list := []scanBSS{
		{SSID: "a", FreqMHz: 2437},
		{SSID: "a", SignalDBm: -80, FreqMHz: 2437},
		{SSID: "a", SignalDBm: -80, FreqMHz: 2437},
		{BSSID: "aa:bb:cc:00:00:01", SignalDBm: 7, FreqMHz: 9999},
		{BSSID: "ff:ff:ff:ff:ff:ff", SignalDBm: -300},
		{BSSID: "aa:bb:cc:00:00:02", SignalDBm: -90, FreqMHz: 5180},
	}
	equalWifi(t, wifiFromScan(list, ""), &pb.Wifi{Nearby: []*pb.BSS{
		bss("", "a", -80, 2437), bss("", "a", -80, 2437), bss("aa:bb:cc:00:00:02", "", -90, 5180),
		bss("", "a", 0, 2437), bss("aa:bb:cc:00:00:01", "", 0, 0), bss("", "", 0, 0),
	}})
	var many []scanBSS
	many = append(many, scanBSS{BSSID: "aa:aa:aa:aa:aa:aa", Current: true, FreqMHz: 5180})
	for i := range maxNearby {
		many = append(many, scanBSS{BSSID: fmt.Sprintf("bb:bb:bb:bb:bb:%02x", i), SignalDBm: int32(-60 - i)})
	}
	w := wifiFromScan(many, "")
	if len(w.GetNearby()) != maxNearby || w.GetNearby()[maxNearby-1].GetSignalDbm() != -99 || w.GetBssid() != "aa:aa:aa:aa:aa:aa" || w.GetSignalDbm() != 0 {
		t.Errorf("an unknown signal, even the current BSS.s, is cut before any known one: %v", w)
	}
}

// Windows 11 24H2 prints "Rssi : -63" beside "Signal : 42%" (which would
// convert to -79 dBm), in every display language; the OEM code page leaves
// accented keys as single bytes.
func TestParseNetshInterfaces24H2Rssi(t *testing.T) {
	tests := []struct {
		file, ssid, bssid string
		mhz               uint32
	}{
		{"netsh-wlan-show-interfaces_11-24H2_rssi_en.txt", "HomeNet", "a4:2b:b0:c1:7e:03", 5220},
		{"netsh-wlan-show-interfaces_11-24H2_rssi_de-cp850.txt", "Zuhause", "94:83:c4:12:ab:01", 2437},
		{"netsh-wlan-show-interfaces_11-24H2_rssi_nl.txt", "Thuisnet", "3c:a6:2f:01:02:03", 5500},
		{"netsh-wlan-show-interfaces_11-24H2_rssi_fr-cp850.txt", "Maison", "58:cf:e2:67:58:e1", 6135},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			cur, n, denied := parseNetshInterfaces(testdataFile(t, "windows", tt.file))
			if n != 1 || denied || len(cur) != 1 {
				t.Fatalf("got %v, %d interfaces, denied %v", cur, n, denied)
			}
			want := scanBSS{BSSID: tt.bssid, SSID: tt.ssid, SignalDBm: -63, FreqMHz: tt.mhz, Current: true}
			if cur[0] != want {
				t.Errorf("got  %+v\nwant %+v", cur[0], want)
			}
		})
	}
	ifs := testdataFile(t, "windows", "netsh-wlan-show-interfaces_11-24H2_rssi_en.txt")
	w, err := windowsWifi(ifs, testdataFile(t, "windows", "netsh-wlan-denied.txt"))
	if err != nil {
		t.Fatal(err)
	}
	equalWifi(t, w, &pb.Wifi{Ssid: "HomeNet", Bssid: "a4:2b:b0:c1:7e:03", SignalDbm: -63, Note: windowsDeniedNote,
		Withheld: withheldLocation, Nearby: []*pb.BSS{bss("a4:2b:b0:c1:7e:03", "HomeNet", -63, 5220)}})
	// With the networks shown, the connected BSS keeps its RSSI; the others
	// are converted from percent and the note says so.
	w, err = windowsWifi(ifs, testdataFile(t, "windows", "netsh-wlan-show-networks.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if w.GetSignalDbm() != -63 || w.GetNearby()[0].GetSignalDbm() != -63 || w.GetNote() != netshNote {
		t.Errorf("got %v", w)
	}
}

// A block naming the AP's BSSID ("AP BSSID", German "AP-BSSID", Russian
// "BSSID точки доступа") beside a plain "BSSID" reports the AP's, whatever
// the order.
func TestParseNetshInterfacesAPBSSID(t *testing.T) {
	for _, block := range []string{
		"    AP BSSID : a4:2b:b0:c1:7e:03\r\n    BSSID : 02:11:22:33:44:55\r\n",
		"    BSSID : 02:11:22:33:44:55\r\n    AP-BSSID : a4:2b:b0:c1:7e:03\r\n",
		"    BSSID точки доступа : a4:2b:b0:c1:7e:03\r\n",
	} {
		in := "    GUID : 5b1f9c3e-2a47-4d0e-9f6a-1c2d3e4f5a6b\r\n    SSID : HomeNet\r\n" + block
		cur, _, _ := parseNetshInterfaces([]byte(in))
		if len(cur) != 1 || cur[0].BSSID != "a4:2b:b0:c1:7e:03" {
			t.Errorf("%q: got %+v", block, cur)
		}
	}
}
