package server

import (
	"context"
	"net"
	"net/netip"
	"testing"

	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
)

func TestPublicIP(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/24"), netip.MustParsePrefix("127.0.0.1/32")}
	tests := []struct {
		name, peerAddr string
		xff            []string
		want           string
	}{
		{"direct peer, no header", "198.51.100.7:5555", nil, "198.51.100.7"},
		{"untrusted peer cannot forward", "198.51.100.7:5555", []string{"8.8.8.8"}, "198.51.100.7"},
		{"trusted proxy forwards", "10.0.0.5:443", []string{"203.0.113.9"}, "203.0.113.9"},
		{"right-most untrusted hop wins", "10.0.0.5:443", []string{"1.1.1.1, 203.0.113.9, 10.0.0.9"}, "203.0.113.9"},
		{"several header values", "127.0.0.1:1", []string{"9.9.9.9", "203.0.113.10"}, "203.0.113.10"},
		{"malformed hop: believe the proxy only", "10.0.0.5:443", []string{"not-an-ip"}, "10.0.0.5"},
		{"proxy without header", "127.0.0.1:9", nil, "127.0.0.1"},
		{"IPv4-mapped peer", "[::ffff:198.51.100.8]:1", nil, "198.51.100.8"},
		{"IPv6 forwarded", "10.0.0.5:443", []string{"2001:db8::1"}, "2001:db8::1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tcp, err := net.ResolveTCPAddr("tcp", tc.peerAddr)
			if err != nil {
				t.Fatal(err)
			}
			ctx := peer.NewContext(context.Background(), &peer.Peer{Addr: tcp})
			if tc.xff != nil {
				md := metadata.MD{}
				for _, v := range tc.xff {
					md.Append(ForwardedForKey, v)
				}
				ctx = metadata.NewIncomingContext(ctx, md)
			}
			if got := publicIP(ctx, trusted); got.String() != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}
