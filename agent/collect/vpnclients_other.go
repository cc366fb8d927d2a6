//go:build !linux

package collect

import "context"

// interfaceNames lists the network interfaces as the OS names them: the BSD
// name on macOS (utun3), the adapter's friendly name on Windows (Tailscale).
func interfaceNames(ctx context.Context, env *Env) ([]string, error) {
	return netInterfaceNames(ctx, env)
}
