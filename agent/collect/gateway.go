package collect

import (
	"context"
	"time"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

func init() { register("gateway", 5*time.Second, collectGateway) }

// collectGateway finds the default gateway and its MAC from the neighbour
// table, read passively: the gateway MAC is what ties laptops on one home
// network together even when their public IPs differ.
func collectGateway(ctx context.Context, env *Env, r *pb.Report) error {
	gw, mac, err := defaultGateway(ctx, env)
	if err != nil {
		return err
	}
	if r.Network == nil {
		r.Network = &pb.Network{}
	}
	r.Network.DefaultGateway = gw
	r.Network.GatewayMac = mac
	return nil
}
