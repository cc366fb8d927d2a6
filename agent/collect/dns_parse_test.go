package collect

import (
	"net/netip"
	"reflect"
	"testing"
)

func TestParseScutilDNS(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"fixture: default resolver; mDNS and split-DNS domains skipped; zone stripped",
			string(testdataFile(t, "darwin", "scutil-dns.txt")), []string{"192.168.1.254", "fe80::f218:98ff:fe05:d839"}},
		{"fixture: VPN resolver first, duplicate dropped", string(testdataFile(t, "darwin", "scutil-dns-vpn.txt")), []string{"10.8.0.1"}},
		{"fixture: only scoped resolvers name servers", string(testdataFile(t, "darwin", "scutil-dns-scoped-only.txt")), []string{"192.168.1.254"}},
		{"no resolvers", "DNS configuration\n\nNo DNS configuration available\n", nil},
		{"empty", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := parseScutilDNS([]byte(tt.in)); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestWindowsDNSServers(t *testing.T) {
	a := netip.MustParseAddr
	adapters := []winAdapter{
		{Name: "Loopback Pseudo-Interface 1", IfType: ifTypeLoopback, Up: true, DNS: []netip.Addr{a("127.0.0.1")}},
		{Name: "Astrill", IfType: ifTypePropVirtual, Up: true, DNS: []netip.Addr{a("10.8.0.1")}},
		{Name: "Wi-Fi", IfType: ifTypeIEEE80211, Up: true, DNS: []netip.Addr{a("192.168.1.1"), a("fec0:0:0:ffff::1%1"),
			a("fec0:0:0:ffff::2%1"), a("::ffff:1.1.1.1"), a("10.8.0.1"), a("fe80::1%12")}},
		{Name: "Ethernet", IfType: ifTypeEthernet, Up: false, DNS: []netip.Addr{a("192.168.50.1")}},
		{Name: "Bad", IfType: ifTypeEthernet, Up: true, DNS: []netip.Addr{{}, a("0.0.0.0")}},
	}
	want := []string{"10.8.0.1", "192.168.1.1", "1.1.1.1", "fe80::1"}
	if got := windowsDNSServers(adapters); !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	if got := windowsDNSServers(nil); got != nil {
		t.Errorf("no adapters: %q", got)
	}
}
