package collect

import (
	"context"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// proxySettings reads the system proxy of the primary network service with
// `scutil --proxy` (the settings every app using CFNetwork follows), then
// the environment of the agent.
func proxySettings(ctx context.Context, env *Env) (*pb.Proxy, error) {
	out, err := env.Command(ctx, "scutil", "--proxy")
	if err != nil {
		return proxyFromEnv(env.Getenv), err
	}
	return mergeProxy(parseScutilProxy(out), proxyFromEnv(env.Getenv)), nil
}
