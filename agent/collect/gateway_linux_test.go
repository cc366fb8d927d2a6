package collect

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const routeHeader = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"

func TestParseProcRoute(t *testing.T) {
	fixture, err := os.ReadFile(filepath.Join("testdata", "linux", "laptop", "proc", "net", "route"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		in      string
		gw, ifc string
		wantErr bool
	}{
		{name: "fixture: Wi-Fi default beats the VPN default with the higher metric",
			in: string(fixture), gw: "192.168.1.1", ifc: "wlp2s0"},
		{name: "VPN default with the lower metric wins", in: routeHeader +
			"wlp2s0\t00000000\t0101A8C0\t0003\t0\t0\t600\t00000000\t0\t0\t0\n" +
			"tun0\t00000000\t0100080A\t0003\t0\t0\t50\t00000000\t0\t0\t0\n",
			gw: "10.8.0.1", ifc: "tun0"},
		{name: "equal metrics keep the first", in: routeHeader +
			"eth0\t00000000\tFE01A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n" +
			"wlan0\t00000000\t0101A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n",
			gw: "192.168.1.254", ifc: "eth0"},
		{name: "split halves of a VPN are not default routes", in: routeHeader +
			"tun0\t00000000\t0100080A\t0003\t0\t0\t0\t00000080\t0\t0\t0\n" +
			"tun0\t00000080\t0100080A\t0003\t0\t0\t0\t00000080\t0\t0\t0\n" +
			"eth0\t00000000\t0102000A\t0003\t0\t0\t100\t00000000\t0\t0\t0\n",
			gw: "10.0.2.1", ifc: "eth0"},
		{name: "device-only default (no RTF_GATEWAY) has no gateway", in: routeHeader +
			"ppp0\t00000000\t00000000\t0001\t0\t0\t0\t00000000\t0\t0\t0\n", wantErr: true},
		{name: "malformed gateway is skipped", in: routeHeader +
			"eth0\t00000000\tZZ01A8C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n" +
			"eth1\t00000000\t0101A8C0\t0003\t0\t0\t200\t00000000\t0\t0\t0\n",
			gw: "192.168.1.1", ifc: "eth1"},
		{name: "header only", in: routeHeader, wantErr: true},
		{name: "empty", in: "", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gw, ifc, err := parseProcRoute([]byte(tt.in))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if gw != tt.gw || ifc != tt.ifc {
				t.Errorf("got (%q, %q), want (%q, %q)", gw, ifc, tt.gw, tt.ifc)
			}
		})
	}
}

func TestParseProcARP(t *testing.T) {
	fixture, err := os.ReadFile(filepath.Join("testdata", "linux", "laptop", "proc", "net", "arp"))
	if err != nil {
		t.Fatal(err)
	}
	const header = "IP address       HW type     Flags       HW address            Mask     Device\n"
	tests := []struct {
		name string
		in   string
		want map[arpKey]string
	}{
		{name: "fixture drops the incomplete entry", in: string(fixture), want: map[arpKey]string{
			{"192.168.1.1", "wlp2s0"}:  "a4:2b:b0:c1:7e:02",
			{"192.168.1.23", "wlp2s0"}: "3c:22:fb:8a:51:d4",
			{"172.17.0.2", "docker0"}:  "02:42:ac:11:00:02",
			{"192.168.1.40", "wlp2s0"}: "30:52:53:0a:09:87",
			{"192.168.1.41", "wlp2s0"}: "dc:a6:32:4e:7b:10",
		}},
		{name: "permanent complete entry, upper-case MAC", in: header +
			"10.0.0.1         0x1         0x6         AA:BB:CC:DD:EE:FF     *        eth0\n",
			want: map[arpKey]string{{"10.0.0.1", "eth0"}: "aa:bb:cc:dd:ee:ff"}},
		{name: "same IP on two interfaces", in: header +
			"10.0.0.1         0x1         0x2         aa:bb:cc:dd:ee:01     *        eth0\n" +
			"10.0.0.1         0x1         0x2         aa:bb:cc:dd:ee:02     *        eth1\n",
			want: map[arpKey]string{{"10.0.0.1", "eth0"}: "aa:bb:cc:dd:ee:01", {"10.0.0.1", "eth1"}: "aa:bb:cc:dd:ee:02"}},
		{name: "complete flag with zero MAC", in: header +
			"10.0.0.9         0x1         0x2         00:00:00:00:00:00     *        eth0\n",
			want: map[arpKey]string{}},
		{name: "broadcast and multicast entries are not hosts", in: header +
			"10.0.0.255       0x1         0x6         ff:ff:ff:ff:ff:ff     *        eth0\n" +
			"224.0.0.251      0x1         0x6         01:00:5e:00:00:fb     *        eth0\n",
			want: map[arpKey]string{}},
		{name: "header only", in: header, want: map[arpKey]string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := parseProcARP([]byte(tt.in)); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestDefaultGatewayFixture(t *testing.T) {
	gw, mac, err := defaultGateway(context.Background(), fixtureEnv(t, "laptop", january))
	if err != nil {
		t.Fatal(err)
	}
	if gw != "192.168.1.1" || mac != "a4:2b:b0:c1:7e:02" {
		t.Errorf("got (%q, %q), want (192.168.1.1, a4:2b:b0:c1:7e:02)", gw, mac)
	}

	// Without a neighbour table the gateway is still reported.
	root := t.TempDir()
	route, _ := os.ReadFile(filepath.Join("testdata", "linux", "laptop", "proc", "net", "route"))
	writeFiles(t, root, map[string]string{"proc/net/route": string(route)})
	gw, mac, err = defaultGateway(context.Background(), rootEnv(root, january))
	if err != nil || gw != "192.168.1.1" || mac != "" {
		t.Errorf("without arp: got (%q, %q, %v), want (192.168.1.1, \"\", nil)", gw, mac, err)
	}

	if _, _, err := defaultGateway(context.Background(), fixtureEnv(t, "plain", january)); err == nil ||
		!strings.Contains(err.Error(), "route") {
		t.Errorf("no /proc/net/route: err = %v, want a read error", err)
	}
}
