package collect

import (
	"context"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// tcpStatesConnected is every TCP state but LISTEN and CLOSE, as a bit mask
// of 1<<state for inet_diag_req_v2.idiag_states.
const tcpStatesConnected = 0xffe &^ (1 << tcpListen) &^ (1 << 7)

// osFillRTT reads tcp_info of every connected TCP socket through inet_diag
// and copies tcpi_rtt/tcpi_rttvar onto the matching connections.
func osFillRTT(ctx context.Context, tools []*pb.ToolMatch) error {
	conns := tcpConnections(tools)
	if len(conns) == 0 {
		return nil
	}
	socks, err := dumpTCPSockets(ctx, tcpStatesConnected)
	applyTCPInfo(conns, socks)
	return err
}
