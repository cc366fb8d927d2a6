package collect

import (
	"context"
	"errors"
)

// dnsServers reads resolv.conf; when it only names systemd-resolved's stub
// (127.0.0.53), the upstream servers are in /run/systemd/resolve/resolv.conf.
func dnsServers(_ context.Context, env *Env) ([]string, error) {
	b, err := env.ReadFile("etc/resolv.conf")
	if err != nil {
		return nil, err
	}
	servers := parseResolvConf(b)
	if len(servers) == 1 && servers[0] == "127.0.0.53" {
		if up, err := env.ReadFile("run/systemd/resolve/resolv.conf"); err == nil {
			if s := parseResolvConf(up); len(s) > 0 {
				return s, nil
			}
		}
	}
	if len(servers) == 0 {
		return nil, errors.New("resolv.conf names no nameserver")
	}
	return servers, nil
}
