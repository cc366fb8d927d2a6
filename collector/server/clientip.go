package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/pires/go-proxyproto"
	"google.golang.org/grpc/peer"
)

// proxyHeaderTimeout bounds how long a trusted balancer's connection may take
// to deliver its PROXY header; the handshake timeout also applies.
const proxyHeaderTimeout = 10 * time.Second

// proxyListener lets configured L4 balancers name the client of each
// connection with a PROXY protocol (v2, or v1) header:
//
//   - From a trusted proxy address the header is optional. Its source address
//     becomes the connection's remote address; a connection without one (the
//     balancer's own health check, or a LOCAL header) keeps the balancer's
//     address. Either way the address is the balancer's word, never the
//     laptop's.
//   - From any other address nothing is parsed: the connection is handed to
//     TLS untouched, so a PROXY header a client wrote itself fails the TLS
//     handshake and the connection is refused. Direct clients pay nothing.
//
// With no trusted proxy the listener is returned as it is.
func proxyListener(lis net.Listener, trusted []netip.Prefix) net.Listener {
	if len(trusted) == 0 {
		return lis
	}
	return &proxyproto.Listener{
		Listener: lis,
		ConnPolicy: func(o proxyproto.ConnPolicyOptions) (proxyproto.Policy, error) {
			if isTrusted(addrOf(o.Upstream), trusted) {
				return proxyproto.USE, nil
			}
			return proxyproto.SKIP, nil
		},
		ValidateHeader:    validateProxyHeader,
		ReadHeaderTimeout: proxyHeaderTimeout,
	}
}

// validateProxyHeader accepts a header naming a TCP client over IPv4 or IPv6,
// or a LOCAL one (the balancer speaking for itself); the connection fails
// otherwise.
func validateProxyHeader(h *proxyproto.Header) error {
	if h.Command.IsLocal() {
		return nil
	}
	if h.TransportProtocol != proxyproto.TCPv4 && h.TransportProtocol != proxyproto.TCPv6 {
		return fmt.Errorf("PROXY header for transport %#x: only TCP clients are served", byte(h.TransportProtocol))
	}
	if a := addrOf(h.SourceAddr); !a.IsValid() || a.IsUnspecified() {
		return errors.New("PROXY header without a usable source address")
	}
	return nil
}

// clientAddr is the address the collector believes a call came from: the TCP
// peer, or the source a trusted balancer named in its PROXY header (the
// listener has already put it in place of the peer). Nothing the agent sends
// inside TLS can change it.
func clientAddr(ctx context.Context) netip.Addr {
	p, ok := peer.FromContext(ctx)
	if !ok || p.Addr == nil {
		return netip.Addr{}
	}
	return addrOf(p.Addr)
}

func addrOf(a net.Addr) netip.Addr {
	if a == nil {
		return netip.Addr{}
	}
	if tcp, ok := a.(*net.TCPAddr); ok {
		if ip, ok := netip.AddrFromSlice(tcp.IP); ok {
			return ip.Unmap()
		}
	}
	if ap, err := netip.ParseAddrPort(a.String()); err == nil {
		return ap.Addr().Unmap()
	}
	return netip.Addr{}
}

func isTrusted(ip netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}
