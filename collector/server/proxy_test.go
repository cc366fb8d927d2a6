package server_test

import (
	"context"
	"net"
	"net/netip"
	"testing"

	"github.com/pires/go-proxyproto"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/farmwatch/farmwatch/agent/uplink"
	"github.com/farmwatch/farmwatch/collector/server"
	"github.com/farmwatch/farmwatch/internal/testcollector"
	"github.com/farmwatch/farmwatch/internal/testrelay"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// The loopback addresses of the test's network: the collector, its trusted
// pass-through balancer, and a laptop.
const (
	balancerIP = "127.0.0.2"
	laptopIP   = "127.0.0.3"
)

// dialFrom is a dial option that connects from src and, when header is
// valid, opens the connection with a PROXY v2 header naming header as the
// client, as only a balancer should.
func dialFrom(src string, header netip.Addr) grpc.DialOption {
	return grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return nil, err
		}
		if header.IsValid() {
			h := proxyproto.HeaderProxyFromAddrs(2, &net.TCPAddr{IP: header.AsSlice(), Port: 40000}, c.RemoteAddr())
			if _, err := h.WriteTo(c); err != nil {
				c.Close()
				return nil, err
			}
		}
		return c, nil
	})
}

// sendVia sends one report as the device through collector address addr with
// the given dial option and the agent's x-forwarded-for claim.
func sendVia(t *testing.T, id *uplink.Identity, addr string, seq uint64, dial grpc.DialOption) error {
	t.Helper()
	routed := *id
	routed.Collector = addr
	conn, err := uplink.Dial(&routed, dial)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx := metadata.AppendToOutgoingContext(context.Background(), "x-forwarded-for", "203.0.113.77")
	_, err = conn.Send(ctx, []*pb.Report{report(seq)})
	return err
}

// storedAt is the public IP the collector stored a device's report seq at.
func storedAt(t *testing.T, c *testcollector.Collector, device string, seq uint64) string {
	t.Helper()
	rs, err := c.Admin.ListReports(context.Background(), &pb.ListReportsRequest{DeviceId: device, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs.GetReports() {
		if r.GetReport().GetSeq() == seq {
			return r.GetPublicIp()
		}
	}
	return ""
}

// A laptop behind a pass-through balancer is stored at the address the
// balancer's PROXY header names, whatever x-forwarded-for it sends; a laptop
// that writes its own PROXY header is refused, directly or through the
// balancer.
func TestClientAddressFromTrustedBalancerOnly(t *testing.T) {
	c, _, id := enrolled(t, func(cfg *server.Config) {
		cfg.TrustedProxies = []netip.Prefix{netip.MustParsePrefix(balancerIP + "/32")}
		cfg.TLSHosts = []string{balancerIP}
	})
	balancer := testrelay.Start(t, c.Addr(), testrelay.Options{Listen: balancerIP + ":0",
		Source: netip.MustParseAddr(balancerIP), ProxyHeader: true})
	forged := netip.MustParseAddr("203.0.113.77")

	// Through the balancer: the laptop's real address, not its header.
	if err := sendVia(t, id, balancer.Addr(), 1, dialFrom(laptopIP, netip.Addr{})); err != nil {
		t.Fatalf("report through the balancer: %v", err)
	}
	if got := storedAt(t, c, id.DeviceID, 1); got != laptopIP {
		t.Fatalf("report through the balancer stored at %q, want the laptop's address %s", got, laptopIP)
	}
	d, err := c.Admin.GetDevice(context.Background(), &pb.GetDeviceRequest{Id: id.DeviceID})
	if err != nil {
		t.Fatal(err)
	}
	if got := d.GetDevice().GetLastPublicIp(); got != laptopIP {
		t.Fatalf("device last seen from %q, want %s", got, laptopIP)
	}

	// A PROXY header of the laptop's own, straight to the collector: not
	// read, so it breaks the TLS handshake and nothing is stored.
	err = sendVia(t, id, c.Addr(), 2, dialFrom(laptopIP, forged))
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("a laptop's own PROXY header: %v, want the connection refused", err)
	}
	// The same through the balancer: the balancer's header is the one read,
	// the laptop's then reaches TLS.
	err = sendVia(t, id, balancer.Addr(), 3, dialFrom(laptopIP, forged))
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("a laptop's own PROXY header behind the balancer's: %v, want the connection refused", err)
	}
	for _, seq := range []uint64{2, 3} {
		if got := storedAt(t, c, id.DeviceID, seq); got != "" {
			t.Fatalf("report %d stored (at %s)", seq, got)
		}
	}

	// Directly, without a header: the TCP peer.
	if err := sendVia(t, id, c.Addr(), 4, dialFrom(laptopIP, netip.Addr{})); err != nil {
		t.Fatal(err)
	}
	if got := storedAt(t, c, id.DeviceID, 4); got != laptopIP {
		t.Fatalf("direct report stored at %q, want %s", got, laptopIP)
	}

	// The balancer's own connection without a header (a health check, or a
	// balancer not set to send one) is the balancer's address: never one the
	// laptop chose.
	plain := testrelay.Start(t, c.Addr(), testrelay.Options{Source: netip.MustParseAddr(balancerIP)})
	if err := sendVia(t, id, plain.Addr(), 5, dialFrom(laptopIP, netip.Addr{})); err != nil {
		t.Fatal(err)
	}
	if got := storedAt(t, c, id.DeviceID, 5); got != balancerIP {
		t.Fatalf("report through a balancer without a header stored at %q, want %s", got, balancerIP)
	}
	if n := storedCount(t, c); n != 3 {
		t.Fatalf("%d reports stored, want 3", n)
	}
}
