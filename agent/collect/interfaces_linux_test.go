package collect

import "testing"

func TestInterfaceKindSysfs(t *testing.T) {
	env := fixtureEnv(t, "laptop", january)
	tests := []struct {
		name  string
		flags []string
		want  string
	}{
		{"wlp2s0", []string{"up", "broadcast", "multicast"}, KindWifi},
		{"enp0s31f6", []string{"broadcast", "multicast"}, KindPhysical},
		{"tun0", []string{"up", "pointtopoint", "multicast"}, KindVPN},
		// Named like a wired card; its ARPHRD_NONE type says tunnel.
		{"corp0", []string{"up", "pointtopoint"}, KindVPN},
		{"docker0", []string{"up", "broadcast", "multicast"}, KindVirtual},
		{"lo", []string{"up", "loopback"}, KindLoopback},
		{"lo", nil, KindLoopback},
		// Not in sysfs: the name decides.
		{"eth9", nil, KindPhysical},
		{"wg0", nil, KindVPN},
		{"veth1234", nil, KindVirtual},
		{"wlan1", nil, KindWifi},
	}
	for _, tt := range tests {
		if got := interfaceKind(env, tt.name, tt.flags); got != tt.want {
			t.Errorf("interfaceKind(%q) = %q, want %q", tt.name, got, tt.want)
		}
	}
}
