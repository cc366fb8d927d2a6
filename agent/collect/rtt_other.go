//go:build !linux && !windows

package collect

import (
	"context"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// osFillRTT on macOS: the kernel keeps each socket's RTT (TCP_CONNECTION_INFO)
// but offers it only to the socket's owner; no public API reads another
// process's sockets, so rtt_us stays 0. `nettop -m tcp` prints per-socket
// RTT but its output is undocumented and not parsed here.
func osFillRTT(context.Context, []*pb.ToolMatch) error { return nil }
