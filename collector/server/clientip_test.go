package server

import (
	"net"
	"net/netip"
	"testing"

	"github.com/pires/go-proxyproto"
)

func TestValidateProxyHeader(t *testing.T) {
	tcp := func(s string) *net.TCPAddr { return net.TCPAddrFromAddrPort(netip.MustParseAddrPort(s)) }
	tests := []struct {
		name string
		h    *proxyproto.Header
		ok   bool
	}{
		{"TCP over IPv4", proxyproto.HeaderProxyFromAddrs(2, tcp("198.51.100.7:5555"), tcp("10.0.0.1:7443")), true},
		{"TCP over IPv6", proxyproto.HeaderProxyFromAddrs(2, tcp("[2001:db8::1]:5555"), tcp("[2001:db8::2]:7443")), true},
		{"LOCAL: the balancer itself", &proxyproto.Header{Version: 2, Command: proxyproto.LOCAL}, true},
		{"UDP", &proxyproto.Header{Version: 2, Command: proxyproto.PROXY, TransportProtocol: proxyproto.UDPv4,
			SourceAddr: &net.UDPAddr{IP: net.IPv4(198, 51, 100, 7), Port: 1}, DestinationAddr: &net.UDPAddr{IP: net.IPv4(10, 0, 0, 1), Port: 2}}, false},
		{"unspecified source", proxyproto.HeaderProxyFromAddrs(2, tcp("0.0.0.0:1"), tcp("10.0.0.1:7443")), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := validateProxyHeader(tc.h); (err == nil) != tc.ok {
				t.Errorf("validate: %v, want ok=%v", err, tc.ok)
			}
		})
	}
}
