package collect

import (
	"context"
	"fmt"
	"time"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// nettopTimeout bounds the one nettop run of a cycle; a single sample
// normally returns in well under a second.
const nettopTimeout = 5 * time.Second

// runNettop is swapped in tests.
var runNettop = func(ctx context.Context) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, nettopTimeout)
	defer cancel()
	return runCommand(ctx, "nettop", nettopArgs...)
}

// osFillRTT on macOS: no public API reads another process's socket RTT
// (TCP_CONNECTION_INFO is the owner's), but nettop, which reads the
// kernel's network statistics, prints each TCP socket's average RTT. It is
// run once, and only when a catalogued tool has a TCP connection. nettop
// gives no variance: rtt_var_us stays 0.
func osFillRTT(ctx context.Context, tools []*pb.ToolMatch) error {
	conns := tcpConnections(tools)
	if len(conns) == 0 {
		return nil
	}
	out, err := runNettop(ctx)
	if err != nil && len(out) == 0 {
		return fmt.Errorf("rtt: %w", err)
	}
	applyTCPInfo(conns, parseNettop(out))
	return nil
}
