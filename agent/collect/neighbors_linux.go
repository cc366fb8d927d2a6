package collect

import (
	"context"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// neighborTable reads the kernel's IPv4 neighbour table from /proc/net/arp
// (readable by any user). IPv6 neighbours live only in netlink and are left
// out: the IPv4 table holds the gateway and the LAN boxes that matter here.
func neighborTable(_ context.Context, env *Env) ([]*pb.Neighbor, error) {
	b, err := env.ReadFile("proc/net/arp")
	if err != nil {
		return nil, err
	}
	return parseProcNeighbors(b), nil
}
