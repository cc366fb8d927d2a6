//go:build !linux

package collect

import (
	"context"
	"net"
)

// interfaceNames lists the network interfaces as the OS names them: the BSD
// name on macOS (utun3), the adapter's friendly name on Windows (Tailscale).
func interfaceNames(context.Context, *Env) ([]string, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(ifs))
	for _, i := range ifs {
		out = append(out, i.Name)
	}
	return out, nil
}
