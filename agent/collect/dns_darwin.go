package collect

import (
	"context"
	"errors"
)

// dnsServers asks `scutil --dns` for the resolvers macOS uses: on macOS
// /etc/resolv.conf is a compatibility copy that misses per-interface and
// VPN-pushed servers. resolv.conf remains the fallback.
func dnsServers(ctx context.Context, env *Env) ([]string, error) {
	out, err := env.Command(ctx, "scutil", "--dns")
	if err == nil {
		if s := parseScutilDNS(out); len(s) > 0 {
			return s, nil
		}
	}
	if b, rerr := env.ReadFile("etc/resolv.conf"); rerr == nil {
		if s := parseResolvConf(b); len(s) > 0 {
			return s, nil
		}
	}
	if err != nil {
		return nil, err
	}
	return nil, errors.New("scutil --dns names no resolver")
}
