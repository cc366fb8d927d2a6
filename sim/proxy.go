package sim

import (
	"context"
	"fmt"
	"net"
	"net/netip"

	"github.com/pires/go-proxyproto"
	"google.golang.org/grpc"
)

// ViaProxy is a dial option that opens each connection with a PROXY protocol
// v2 header naming src as the client, as a pass-through load balancer in
// front of the collector does. The collector believes the header only from a
// --trusted-proxy address, so the simulator must connect from one.
func ViaProxy(src netip.Addr) grpc.DialOption {
	return grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return nil, err
		}
		// The client's port is the real connection's: any port will do, and
		// this one is unique among the simulator's connections.
		port := c.LocalAddr().(*net.TCPAddr).Port
		h := proxyproto.HeaderProxyFromAddrs(2, &net.TCPAddr{IP: src.AsSlice(), Port: port}, c.RemoteAddr())
		if _, err := h.WriteTo(c); err != nil {
			c.Close()
			return nil, fmt.Errorf("PROXY header to %s: %w", addr, err)
		}
		return c, nil
	})
}
