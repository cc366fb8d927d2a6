package collect

import "testing"

func TestKindFromName(t *testing.T) {
	tests := []struct {
		name  string
		flags []string
		want  string
	}{
		{"utun3", nil, KindVPN},
		{"wg0", nil, KindVPN},
		{"ppp0", nil, KindVPN},
		{"tun0", nil, KindVPN},
		{"tap0", nil, KindVPN},
		{"astrill0", nil, KindVPN},
		{"tailscale0", nil, KindVPN},
		{"NordLynx", nil, KindVPN},
		{"ProtonVPN", nil, KindVPN},
		{"en0", nil, KindPhysical},
		{"eth0", nil, KindPhysical},
		{"enp0s31f6", nil, KindPhysical},
		{"Ethernet 2", nil, KindPhysical},
		{"wlan0", nil, KindWifi},
		{"wlp2s0", nil, KindWifi},
		{"Wi-Fi", nil, KindWifi},
		{"Wireless Network Connection", nil, KindWifi},
		{"docker0", nil, KindVirtual},
		{"veth1234", nil, KindVirtual},
		{"br-3f2a9c", nil, KindVirtual},
		{"vEthernet (WSL)", nil, KindVirtual},
		{"awdl0", nil, KindVirtual},
		{"lo", nil, KindLoopback},
		{"lo0", nil, KindLoopback},
		{"Loopback Pseudo-Interface 1", nil, KindLoopback},
		{"eth0", []string{"up", "loopback"}, KindLoopback},
	}
	for _, tt := range tests {
		if got := kindFromName(tt.name, tt.flags); got != tt.want {
			t.Errorf("kindFromName(%q, %q) = %q, want %q", tt.name, tt.flags, got, tt.want)
		}
	}
}
