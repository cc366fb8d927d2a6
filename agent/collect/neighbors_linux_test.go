package collect

import (
	"context"
	"os"
	"reflect"
	"testing"
)

// TestCollectNetworkFixture runs every network collector end to end on the
// laptop fixture root, with nmcli and gsettings answered from captures.
func TestCollectNetworkFixture(t *testing.T) {
	env := commandEnv(fixtureEnv(t, "laptop", january).Root, map[string][]byte{
		nmcliWifiList: testdataFile(t, "linux", "commands/nmcli-wifi-list.txt"),
		"gsettings list-recursively org.gnome.system.proxy": testdataFile(t, "linux", "commands/gsettings-proxy-manual.txt"),
	})
	env.Getenv = func(k string) string {
		switch k {
		case "https_proxy":
			return "http://10.0.0.5:3128"
		case "DBUS_SESSION_BUS_ADDRESS": // inside a desktop session: gsettings is asked
			return "unix:path=/run/user/1000/bus"
		}
		return ""
	}
	r := Collect(context.Background(), env, Options{Only: []string{"gateway", "dns", "neighbors", "wifi", "proxy"}})
	if len(r.GetErrors()) != 0 {
		t.Fatalf("errors: %v", r.GetErrors())
	}
	n := r.GetNetwork()
	if n.GetDefaultGateway() != "192.168.1.1" || n.GetGatewayMac() != "a4:2b:b0:c1:7e:02" {
		t.Errorf("gateway %q %q", n.GetDefaultGateway(), n.GetGatewayMac())
	}
	var flagged []string
	for _, nb := range n.GetNeighbors() {
		if nb.GetFlaggedVendor() != "" {
			flagged = append(flagged, nb.GetIp()+" "+nb.GetFlaggedVendor()+" "+nb.GetFlagConfidence())
		}
	}
	want := []string{"192.168.1.40 jetkvm high", "192.168.1.41 raspberry-pi (PiKVM/TinyPilot hardware) low"}
	if len(n.GetNeighbors()) != 5 || !reflect.DeepEqual(flagged, want) {
		t.Errorf("neighbours %v, flagged %q, want 5 and %q", n.GetNeighbors(), flagged, want)
	}
	if n.GetNeighbors()[0].GetInterface() != "docker0" {
		t.Errorf("neighbours not sorted by interface: %v", n.GetNeighbors())
	}
	if w := n.GetWifi(); w.GetBssid() != "a4:2b:b0:c1:7e:03" || len(w.GetNearby()) != 5 {
		t.Errorf("wifi %v", w)
	}
	if p := n.GetProxy(); p.GetHttps() != "http://10.0.0.5:3128" || p.GetHttp() != "proxy.example:3128" ||
		p.GetSocks() != "127.0.0.1:1080" || p.GetSource() != "env+gsettings" {
		t.Errorf("proxy %v", p)
	}
}

// TestCollectNetworkFixtureBare: a root without /proc and no commands gives
// error entries, never a failed report.
func TestCollectNetworkFixtureBare(t *testing.T) {
	r := Collect(context.Background(), fixtureEnv(t, "plain", january),
		Options{Only: []string{"gateway", "neighbors", "wifi", "proxy"}})
	errs := map[string]string{}
	for _, e := range r.GetErrors() {
		errs[e.GetCollector()] = e.GetError()
	}
	for _, c := range []string{"gateway", "neighbors", "wifi"} {
		if errs[c] == "" {
			t.Errorf("%s: no error entry (errors %v)", c, errs)
		}
	}
	if errs["wifi"] != errNoWifi.Error() {
		t.Errorf("wifi error %q, want %q", errs["wifi"], errNoWifi)
	}
	if _, ok := errs["proxy"]; ok || r.GetNetwork().GetProxy() != nil {
		t.Errorf("no proxy configured: error %q, proxy %v", errs["proxy"], r.GetNetwork().GetProxy())
	}
}

// TestSmokeHostNetwork runs the network collectors on this machine and
// checks what must hold here.
func TestSmokeHostNetwork(t *testing.T) {
	if testing.Short() {
		t.Skip("reads the real machine")
	}
	r := Collect(context.Background(), HostEnv(), Options{Only: []string{"gateway", "dns", "neighbors", "wifi", "proxy", "interfaces"}})
	errs := map[string]string{}
	for _, e := range r.GetErrors() {
		t.Logf("collector %s: %s", e.GetCollector(), e.GetError())
		errs[e.GetCollector()] = e.GetError()
	}
	for _, c := range []string{"neighbors", "proxy", "interfaces"} {
		if errs[c] != "" {
			t.Errorf("%s failed on this host: %s", c, errs[c])
		}
	}
	n := r.GetNetwork()
	arp, err := os.ReadFile("/proc/net/arp")
	if err != nil {
		t.Skip("no /proc/net/arp")
	}
	if got, want := len(n.GetNeighbors()), len(parseProcNeighbors(arp)); got != want {
		t.Errorf("%d neighbours, /proc/net/arp has %d complete entries", got, want)
	}
	if gw := n.GetDefaultGateway(); gw != "" {
		if mac := n.GetGatewayMac(); mac != "" && neighborFor(n.GetNeighbors(), gw, "") != mac {
			t.Errorf("gateway %s at %s is not among the neighbours %v", gw, mac, n.GetNeighbors())
		}
	}
	// Wi-Fi: either reported or said missing in the error list.
	if n.GetWifi() == nil && errs["wifi"] == "" {
		t.Error("no Wifi and no wifi error entry")
	}
	if _, err := os.Stat("/sys/class/ieee80211"); err != nil && n.GetWifi() == nil && errs["wifi"] != errNoWifi.Error() {
		t.Errorf("no Wi-Fi hardware here: wifi error %q, want %q", errs["wifi"], errNoWifi)
	}
	if w := n.GetWifi(); w != nil {
		t.Logf("wifi: %v", w)
	}
}
