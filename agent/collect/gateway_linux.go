package collect

import (
	"context"
)

func defaultGateway(_ context.Context, env *Env) (string, string, error) {
	route, err := env.ReadFile("proc/net/route")
	if err != nil {
		return "", "", err
	}
	gw, ifc, err := parseProcRoute(route)
	if err != nil {
		return "", "", err
	}
	arp, err := env.ReadFile("proc/net/arp")
	if err != nil {
		return gw, "", nil
	}
	return gw, parseProcARP(arp)[arpKey{gw, ifc}], nil
}

type arpKey struct{ ip, ifc string }

// parseProcARP maps the complete entries of /proc/net/arp by address and
// interface.
func parseProcARP(b []byte) map[arpKey]string {
	out := map[arpKey]string{}
	for _, n := range parseProcNeighbors(b) {
		out[arpKey{n.GetIp(), n.GetInterface()}] = n.GetMac()
	}
	return out
}
