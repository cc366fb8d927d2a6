package collect

import (
	"reflect"
	"testing"
)

func TestParseHardwarePorts(t *testing.T) {
	got := parseHardwarePorts(testdataFile(t, "darwin", "networksetup-listallhardwareports.txt"))
	want := map[string]string{"en4": KindPhysical, "bridge0": KindVirtual, "en0": KindWifi, "en1": KindPhysical,
		"en7": KindPhysical, "en8": KindVirtual}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if got := parseHardwarePorts([]byte("Hardware Port: AirPort\nDevice: en1\n\nHardware Port: Bluetooth PAN\nDevice: en3\n\nHardware Port: Broken\n")); !reflect.DeepEqual(got,
		map[string]string{"en1": KindWifi, "en3": KindVirtual}) {
		t.Errorf("AirPort and PAN: %v", got)
	}
}

func TestDarwinInterfaceKind(t *testing.T) {
	ports := parseHardwarePorts(testdataFile(t, "darwin", "networksetup-listallhardwareports.txt"))
	tests := []struct {
		name  string
		flags []string
		want  string
	}{
		{"en0", []string{"up"}, KindWifi},
		{"en7", nil, KindPhysical},
		{"bridge0", nil, KindVirtual},
		{"utun4", []string{"up", "pointtopoint"}, KindVPN},
		{"ipsec0", nil, KindVPN},
		{"ppp0", nil, KindVPN},
		{"awdl0", nil, KindVirtual},
		{"llw0", nil, KindVirtual},
		{"lo0", []string{"loopback"}, KindLoopback},
		{"en5", nil, KindPhysical}, // not a hardware port: name fallback
	}
	for _, tt := range tests {
		if got := darwinInterfaceKind(ports, tt.name, tt.flags); got != tt.want {
			t.Errorf("%s = %q, want %q", tt.name, got, tt.want)
		}
	}
	if got := darwinInterfaceKind(nil, "en0", nil); got != KindPhysical {
		t.Errorf("en0 without networksetup = %q, want the name fallback", got)
	}
}

func TestWindowsAdapterKind(t *testing.T) {
	tests := []struct {
		a    winAdapter
		want string
	}{
		{winAdapter{Name: "Wi-Fi", Description: "Intel(R) Wi-Fi 6E AX211 160MHz", IfType: ifTypeIEEE80211}, KindWifi},
		{winAdapter{Name: "Local Area Connection* 1", Description: "Microsoft Wi-Fi Direct Virtual Adapter", IfType: ifTypeIEEE80211}, KindVirtual},
		{winAdapter{Name: "Ethernet", Description: "Intel(R) Ethernet Connection (16) I219-LM", IfType: ifTypeEthernet}, KindPhysical},
		{winAdapter{Name: "Ethernet 3", Description: "TAP-Windows Adapter V9", IfType: ifTypeEthernet}, KindVPN},
		{winAdapter{Name: "Astrill", Description: "Astrill SSL VPN Adapter", IfType: ifTypeEthernet}, KindVPN},
		{winAdapter{Name: "Ethernet 4", Description: "Astrill Wintun Adapter", IfType: ifTypePropVirtual}, KindVPN},
		{winAdapter{Name: "wg-home", Description: "WireGuard Tunnel", IfType: ifTypePropVirtual}, KindVPN},
		{winAdapter{Name: "OpenVPN Data Channel Offload", Description: "OpenVPN Data Channel Offload", IfType: ifTypePropVirtual}, KindVPN},
		{winAdapter{Name: "NordLynx", Description: "NordLynx Tunnel", IfType: ifTypePropVirtual}, KindVPN},
		{winAdapter{Name: "Company VPN", Description: "WAN Miniport (IKEv2)", IfType: ifTypePPP}, KindVPN},
		{winAdapter{Name: "Teredo Tunneling Pseudo-Interface", Description: "Teredo Tunneling Pseudo-Interface", IfType: ifTypeTunnel}, KindVirtual},
		{winAdapter{Name: "Tunnel", Description: "Some IPsec Tunnel", IfType: ifTypeTunnel}, KindVPN},
		{winAdapter{Name: "vEthernet (WSL)", Description: "Hyper-V Virtual Ethernet Adapter", IfType: ifTypeEthernet}, KindVirtual},
		{winAdapter{Name: "VirtualBox Host-Only Network", Description: "VirtualBox Host-Only Ethernet Adapter", IfType: ifTypeEthernet}, KindVirtual},
		{winAdapter{Name: "Bluetooth Network Connection", Description: "Bluetooth Device (Personal Area Network)", IfType: ifTypeEthernet}, KindVirtual},
		{winAdapter{Name: "Some Virtual", Description: "Generic virtual miniport", IfType: ifTypePropVirtual}, KindVirtual},
		{winAdapter{Name: "Loopback Pseudo-Interface 1", Description: "Software Loopback Interface 1", IfType: ifTypeLoopback}, KindLoopback},
		{winAdapter{Name: "Cellular", Description: "Qualcomm Snapdragon X55 5G", IfType: ifTypeWWANPP2}, KindPhysical},
		{winAdapter{Name: "Wireless Network Connection", Description: "unknown", IfType: 999}, KindWifi},
	}
	for _, tt := range tests {
		if got := windowsAdapterKind(tt.a); got != tt.want {
			t.Errorf("%q (%q, type %d) = %q, want %q", tt.a.Name, tt.a.Description, tt.a.IfType, got, tt.want)
		}
	}
}
