package collect

import (
	"context"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// proxySettings reads the proxy environment variables, then GNOME's proxy
// settings through gsettings when the agent runs inside a desktop session.
// gsettings reads the dconf database of the user the agent runs as: a
// system service (no session bus) would only read root's, so it is not
// asked there, which also spares a process per cycle.
func proxySettings(ctx context.Context, env *Env) (*pb.Proxy, error) {
	p := proxyFromEnv(env.Getenv)
	if env.Getenv("DBUS_SESSION_BUS_ADDRESS") == "" {
		return p, nil
	}
	if out, err := env.Command(ctx, "gsettings", "list-recursively", "org.gnome.system.proxy"); err == nil {
		p = mergeProxy(p, parseGsettingsProxy(out))
	}
	return p, nil
}
