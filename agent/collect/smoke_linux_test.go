//go:build linux

package collect

import (
	"context"
	"os"
	"testing"
)

// TestSmokeHost runs the collectors on this machine and checks them against
// what the machine says directly.
func TestSmokeHost(t *testing.T) {
	if testing.Short() {
		t.Skip("reads the real machine")
	}
	r := Collect(context.Background(), HostEnv(), Options{Only: []string{"host", "interfaces", "gateway", "locale"}})
	for _, e := range r.GetErrors() {
		t.Logf("collector %s: %s", e.GetCollector(), e.GetError())
	}

	hostname, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	if got := r.GetHost().GetHostname(); got != hostname {
		t.Errorf("host.hostname = %q, want %q", got, hostname)
	}

	ifs := r.GetNetwork().GetInterfaces()
	if len(ifs) == 0 {
		t.Fatal("no interfaces")
	}
	loopback := false
	for _, i := range ifs {
		if i.GetName() == "lo" {
			loopback = true
			if i.GetKind() != KindLoopback {
				t.Errorf("lo classified as %q", i.GetKind())
			}
		}
	}
	if !loopback {
		t.Errorf("no lo among %d interfaces", len(ifs))
	}

	if route, err := os.ReadFile("/proc/net/route"); err == nil {
		if gw, _, err := parseProcRoute(route); err == nil {
			if got := r.GetNetwork().GetDefaultGateway(); got != gw {
				t.Errorf("default gateway %q, /proc/net/route says %q", got, gw)
			}
		}
	}

	if target, err := os.Readlink("/etc/localtime"); err == nil && zoneFromLink(target) != "" {
		if got := r.GetLocale().GetTimeZone(); got != zoneFromLink(target) {
			t.Errorf("time zone %q, /etc/localtime links to %q", got, target)
		}
	}
}
