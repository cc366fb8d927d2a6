package collect

import (
	"context"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// neighborTable lists the ARP cache with `arp -an` (-n: no reverse DNS
// lookups, so nothing is sent).
func neighborTable(ctx context.Context, env *Env) ([]*pb.Neighbor, error) {
	out, err := env.Command(ctx, "arp", "-an")
	if err != nil {
		return nil, err
	}
	return parseArpAn(out), nil
}
