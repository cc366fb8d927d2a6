package collect

import (
	"net/netip"
	"testing"
)

func TestParseRouteGetDefault(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		gw, ifc string
	}{
		{"fixture: home router on Wi-Fi", string(testdataFile(t, "darwin", "route-get-default.txt")), "192.168.1.254", "en0"},
		{"fixture: VPN holds the default without a gateway", string(testdataFile(t, "darwin", "route-get-default-utun.txt")), "", "utun4"},
		{"IPv6 gateway is not the IPv4 default", "    gateway: fe80::1%en0\n  interface: en0\n", "", "en0"},
		{"no route", "route: writing to routing socket: not in table\n", "", ""},
		{"empty", "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gw, ifc := parseRouteGetDefault([]byte(tt.in))
			if gw != tt.gw || ifc != tt.ifc {
				t.Errorf("got (%q, %q), want (%q, %q)", gw, ifc, tt.gw, tt.ifc)
			}
		})
	}
}

func TestParseNetstatDefault(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		gw, ifc string
	}{
		{"fixture: the scoped en0 default behind a utun default", string(testdataFile(t, "darwin", "netstat-rn-utun.txt")), "192.168.1.254", "en0"},
		{"fixture: macOS 10.14 layout with Refs and Use before Netif", string(testdataFile(t, "darwin", "netstat-rn_10.14_refs-column.txt")), "192.168.1.254", "en0"},
		{"fixture: macOS 15, both sections", string(testdataFile(t, "darwin", "netstat-rn_15_netif-column.txt")), "192.168.1.254", "en0"},
		{"10.14 row without its header, read by shape", "default            192.168.1.254      UGSc           83       24     en0\n", "192.168.1.254", "en0"},
		{"header without Netif: no interface, no route", "Destination        Gateway            Flags\ndefault            192.168.1.254      UGSc\n", "", ""},
		{"Internet6 header does not carry over to the next Internet section",
			"Internet6:\nDestination Gateway Flags Netif Expire\ndefault fe80::1%en0 UGc en0\nInternet:\ndefault 192.168.1.254 UGSc 83 24 en0\n", "192.168.1.254", "en0"},
		{"VPN with a gateway address is skipped",
			"default            10.8.0.1           UGSc                utun3\ndefault            192.168.0.1        UGScIg                en1\n",
			"192.168.0.1", "en1"},
		{"only tunnels", "default            link#26            UCSg                utun4\n", "", ""},
		{"host route to the gateway is not a default", "192.168.1.254      f0:18:98:5:d8:39   UHLWIir               en0   1173\n", "", ""},
		{"empty", "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gw, ifc := parseNetstatDefault([]byte(tt.in))
			if gw != tt.gw || ifc != tt.ifc {
				t.Errorf("got (%q, %q), want (%q, %q)", gw, ifc, tt.gw, tt.ifc)
			}
		})
	}
}

func TestPickWindowsDefaultRoute(t *testing.T) {
	p := netip.MustParsePrefix
	a := netip.MustParseAddr
	wifi := winRoute{IfIndex: 12, Dest: p("0.0.0.0/0"), NextHop: a("192.168.1.1"), Metric: 0}
	eth := winRoute{IfIndex: 5, Dest: p("0.0.0.0/0"), NextHop: a("192.168.1.254"), Metric: 0}
	tests := []struct {
		name     string
		routes   []winRoute
		ifMetric map[uint32]uint32
		want     string
		ok       bool
	}{
		{"interface metric decides (Ethernet 25 beats Wi-Fi 50)", []winRoute{wifi, eth}, map[uint32]uint32{12: 50, 5: 25}, "192.168.1.254", true},
		{"route metric adds to the interface metric", []winRoute{wifi, {IfIndex: 5, Dest: p("0.0.0.0/0"), NextHop: a("192.168.1.254"), Metric: 30}},
			map[uint32]uint32{12: 50, 5: 25}, "192.168.1.1", true},
		{"equal metrics keep the first", []winRoute{wifi, eth}, nil, "192.168.1.1", true},
		{"on-link default (PPP/VPN) has no gateway", []winRoute{{IfIndex: 30, Dest: p("0.0.0.0/0"), NextHop: a("0.0.0.0"), Metric: 1}, wifi},
			nil, "192.168.1.1", true},
		{"VPN split halves are not default", []winRoute{{IfIndex: 30, Dest: p("0.0.0.0/1"), NextHop: a("10.8.0.1")}, wifi}, nil, "192.168.1.1", true},
		{"IPv4-mapped next hop is unmapped", []winRoute{{IfIndex: 12, Dest: p("0.0.0.0/0"), NextHop: a("::ffff:192.168.1.1")}}, nil, "192.168.1.1", true},
		{"IPv6 default ignored", []winRoute{{IfIndex: 12, Dest: p("::/0"), NextHop: a("fe80::1")}}, nil, "", false},
		{"zero prefix is invalid", []winRoute{{IfIndex: 12, NextHop: a("192.168.1.1")}}, nil, "", false},
		{"none", nil, nil, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := pickWindowsDefaultRoute(tt.routes, tt.ifMetric)
			if ok != tt.ok || (ok && got.NextHop.String() != tt.want) {
				t.Errorf("got %v %v, want %s %v", got.NextHop, ok, tt.want, tt.ok)
			}
		})
	}
}
