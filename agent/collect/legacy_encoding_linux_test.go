package collect

import (
	"context"
	"slices"
	"testing"

	"google.golang.org/protobuf/proto"
)

// TestLegacyEncodingsCollected runs the real readers and parsers on a root
// whose hostname, neighbour-table interface and USB descriptors, and whose
// captured nmcli output, hold Latin-1 and GBK bytes (testdata/linux/README.md,
// legacy-encodings/). The report marshals, and every byte is kept, escaped.
func TestLegacyEncodingsCollected(t *testing.T) {
	env := commandEnv(fixtureEnv(t, "legacy-encodings", january).Root, map[string][]byte{
		nmcliWifiList: testdataFile(t, "linux", "commands/nmcli-wifi-list-legacy-ssids.txt"),
	})
	r := Collect(context.Background(), env, Options{Only: []string{"host", "wifi", "usb", "neighbors"}})
	if _, err := proto.Marshal(r); err != nil {
		t.Fatalf("collected report does not marshal: %v", err)
	}
	if got, want := r.GetHost().GetHostname(), `K\xf6ln-laptop`; got != want {
		t.Errorf("hostname %q, want %q", got, want)
	}
	w := r.GetNetwork().GetWifi()
	if got, want := w.GetSsid(), `Caf\xe9`; got != want || w.GetBssid() != "a4:2b:b0:c1:7e:03" {
		t.Errorf("current SSID %q (%s), want %q", got, w.GetBssid(), want)
	}
	var nearby []string
	for _, b := range w.GetNearby() {
		nearby = append(nearby, b.GetSsid())
	}
	want := []string{`Caf\xe9`, `K\xf6ln Hbf`, `\xd6\xd0\xce\xc4\xcd\xf8\xc2\xe7`, "Café UTF-8"}
	if !slices.Equal(nearby, want) {
		t.Errorf("nearby SSIDs %q, want %q", nearby, want)
	}
	var usb []string
	for _, u := range r.GetPeripherals().GetUsb() {
		usb = append(usb, u.GetManufacturer()+" / "+u.GetProduct())
	}
	// GBK "中文键盘": its bytes c4 bc happen to spell UTF-8 "ļ", which is valid
	// and kept as it is; only bytes that are not UTF-8 are escaped.
	want = []string{`Caf\xe9 Ger\xe4te / \xd6\xd0\xceļ\xfc\xc5\xcc`, `K\xf6ln Elektronik / USB Serial`}
	if !slices.Equal(usb, want) {
		t.Errorf("USB names %q, want %q", usb, want)
	}
	ns := r.GetNetwork().GetNeighbors()
	if len(ns) != 2 || ns[0].GetInterface() != `caf\xe90` {
		t.Errorf("neighbours %v, want two on interface caf\\xe90", ns)
	}
	for _, e := range r.GetErrors() {
		if e.GetCollector() == LimitsCollector {
			t.Errorf("escaping alone reported as a cut: %v", e)
		}
	}
}
