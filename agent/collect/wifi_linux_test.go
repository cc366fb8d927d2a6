package collect

import (
	"context"
	"errors"
	"testing"
)

const nmcliWifiList = "nmcli -t -f IN-USE,BSSID,SSID,SIGNAL,FREQ dev wifi list --rescan no"

// On a fixture root the reader skips nl80211 (the real kernel) and reads
// nmcli's captured output.
func TestWifiStateLinuxFixture(t *testing.T) {
	env := commandEnv(t.TempDir(), map[string][]byte{nmcliWifiList: testdataFile(t, "linux", "commands/nmcli-wifi-list.txt")})
	w, err := wifiState(context.Background(), env)
	if err != nil || w.GetBssid() != "a4:2b:b0:c1:7e:03" || w.GetSignalDbm() != -54 || len(w.GetNearby()) != 5 ||
		w.GetNote() != nmcliSignalNote {
		t.Errorf("got %v, %v", w, err)
	}

	for name, env := range map[string]*Env{
		"no nmcli":          commandEnv(t.TempDir(), nil),
		"nmcli sees no BSS": commandEnv(t.TempDir(), map[string][]byte{nmcliWifiList: nil}),
	} {
		if w, err := wifiState(context.Background(), env); !errors.Is(err, errNoWifi) || w != nil {
			t.Errorf("%s: got %v, %v; want errNoWifi", name, w, err)
		}
	}
}
