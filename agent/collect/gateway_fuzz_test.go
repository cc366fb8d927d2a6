package collect

import (
	"net/netip"
	"testing"
)

// FuzzGatewayRoute feeds the default-route parsers (`route -n get default`,
// `netstat -rn`, /proc/net/route): a gateway is an IPv4 address or nothing,
// and a gateway found in a routing table comes with an interface name that
// is not a number (a counter column taken for Netif).
func FuzzGatewayRoute(f *testing.F) {
	addFixtureSeeds(f, "darwin/route-get-default*.txt", "darwin/netstat-rn*.txt", "linux/laptop/proc/net/route")
	f.Add([]byte("Internet:\nDestination Gateway Flags Netif\ndefault 192.168.1.1 UGSc 7\n"))
	f.Add([]byte("Destination Netif\ndefault 10.0.0.1 UG\n"))
	f.Add([]byte("eth0\t00000000\t0101A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		isGateway := func(gw string) bool {
			a, err := netip.ParseAddr(gw)
			return err == nil && a.Is4()
		}
		if gw, _ := parseRouteGetDefault(b); gw != "" && !isGateway(gw) {
			t.Fatalf("route get: gateway %q", gw)
		}
		if gw, ifc := parseNetstatDefault(b); gw != "" {
			if !isGateway(gw) || ifc == "" || isDecimal(ifc) {
				t.Fatalf("netstat: gateway %q on interface %q", gw, ifc)
			}
		} else if ifc != "" {
			t.Fatalf("netstat: interface %q without a gateway", ifc)
		}
		if gw, ifc, err := parseProcRoute(b); err == nil && (!isGateway(gw) || ifc == "") {
			t.Fatalf("/proc/net/route: gateway %q on interface %q", gw, ifc)
		}
	})
}
