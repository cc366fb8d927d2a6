package collect

import (
	"context"
	"time"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

func init() { register("proxy", 5*time.Second, collectProxy) }

// collectProxy reports the configured proxies: a proxy can route a laptop's
// traffic through somewhere else just as a VPN does. No proxy configured
// leaves Network.proxy unset.
func collectProxy(ctx context.Context, env *Env, r *pb.Report) error {
	p, err := proxySettings(ctx, env)
	if p != nil && !emptyProxy(p) {
		if r.Network == nil {
			r.Network = &pb.Network{}
		}
		r.Network.Proxy = p
	}
	return err
}
