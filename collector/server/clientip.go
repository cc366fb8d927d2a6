package server

import (
	"context"
	"net"
	"net/netip"
	"strings"

	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
)

// ForwardedForKey is the metadata a trusted proxy sets to the client address.
const ForwardedForKey = "x-forwarded-for"

// publicIP is the address the collector believes a call came from: the TCP
// peer, or, when that peer is a configured trusted proxy, the right-most
// address of x-forwarded-for that is not itself a trusted proxy. An agent
// never asserts its own address.
func publicIP(ctx context.Context, trusted []netip.Prefix) netip.Addr {
	p, ok := peer.FromContext(ctx)
	if !ok || p.Addr == nil {
		return netip.Addr{}
	}
	ip := addrOf(p.Addr)
	if !isTrusted(ip, trusted) {
		return ip
	}
	md, _ := metadata.FromIncomingContext(ctx)
	var hops []string
	for _, v := range md.Get(ForwardedForKey) {
		for _, h := range strings.Split(v, ",") {
			if h = strings.TrimSpace(h); h != "" {
				hops = append(hops, h)
			}
		}
	}
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(hops[i])
		if err != nil {
			return ip // a malformed hop: believe only the proxy itself
		}
		a = a.Unmap()
		if !isTrusted(a, trusted) {
			return a
		}
	}
	return ip
}

func addrOf(a net.Addr) netip.Addr {
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

// peerAddr is the TCP peer, for limits that must not trust forwarded
// addresses (a lockout keyed on a header could be dodged or aimed).
func peerAddr(ctx context.Context) netip.Addr {
	p, ok := peer.FromContext(ctx)
	if !ok || p.Addr == nil {
		return netip.Addr{}
	}
	return addrOf(p.Addr)
}
