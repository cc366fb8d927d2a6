package collect

import (
	"context"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// proxySettings reads the proxy environment variables, then GNOME's proxy
// settings through gsettings when it is installed. gsettings reads the
// dconf database of the user the agent runs as: for a root service that
// is root's, not the desktop user's, so the environment usually decides.
func proxySettings(ctx context.Context, env *Env) (*pb.Proxy, error) {
	p := proxyFromEnv(env.Getenv)
	if out, err := env.Command(ctx, "gsettings", "list-recursively", "org.gnome.system.proxy"); err == nil {
		p = mergeProxy(p, parseGsettingsProxy(out))
	}
	return p, nil
}
