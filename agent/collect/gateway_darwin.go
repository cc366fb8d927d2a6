package collect

import (
	"context"
	"errors"
)

// defaultGateway asks `route -n get default` for the primary default route;
// when a VPN's utun holds it without a gateway address, the home router's
// scoped default comes from `netstat -rn -f inet`. The MAC is the router's
// entry in `arp -an`; nothing is sent to find it.
func defaultGateway(ctx context.Context, env *Env) (string, string, error) {
	var gw, ifc string
	out, routeErr := env.Command(ctx, "route", "-n", "get", "default")
	if routeErr == nil {
		gw, ifc = parseRouteGetDefault(out)
	}
	if gw == "" || kindFromName(ifc, nil) == KindVPN {
		if out, err := env.Command(ctx, "netstat", "-rn", "-f", "inet"); err == nil {
			if g, i := parseNetstatDefault(out); g != "" {
				gw, ifc = g, i
			}
		}
	}
	if gw == "" {
		if routeErr != nil {
			return "", "", routeErr
		}
		return "", "", errors.New("no default IPv4 route through a gateway")
	}
	arp, err := env.Command(ctx, "arp", "-an")
	if err != nil {
		return gw, "", nil
	}
	return gw, neighborFor(parseArpAn(arp), gw, ifc), nil
}
