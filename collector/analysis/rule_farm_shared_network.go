package analysis

import (
	"fmt"
	"strings"
	"time"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

func init() {
	register(RuleSpec{ID: RuleFarmNetwork, Class: ClassFarm, Source: SourceFarm, Weight: 2.0,
		Decay: Decay{Hold: 24 * time.Hour, Fade: 48 * time.Hour},
		Doc:   "a farm's devices share one physical network: a router (gateway MAC), a Wi-Fi network (BSSID) or the same neighbouring Wi-Fi networks (x1), or only a public IP (x`cluster.ip_only_factor`)"})
}

// farmNetworkLine says what network a farm's members share.
func farmNetworkLine(cfg *Config, cl *Cluster) *pb.Evidence {
	kinds := map[string][]string{}
	for _, k := range sortedLinkKeys(cl) {
		l := cl.Links[k]
		kinds[l.Kind] = append(kinds[l.Kind], l.Value)
	}
	var parts []string
	describe := func(kind, what string) {
		if v := kinds[kind]; len(v) > 0 {
			parts = append(parts, fmt.Sprintf("%s %s", what, listSome(v, 3)))
		}
	}
	describe(FPGatewayMAC, "the router with gateway MAC")
	describe(FPBSSID, "the Wi-Fi network with BSSID")
	if v := kinds[FPNearby]; len(v) > 0 {
		parts = append(parts, fmt.Sprintf("the same neighbouring Wi-Fi networks (%d BSSIDs: %s)", len(v), listSome(v, 3)))
	}
	describe(FPPublicIP, "the public IP")
	factor, strength := 1.0, "one physical network"
	if cl.IPOnly {
		factor, strength = cfg.Cluster.IPOnlyFactor, "only a public IP, no router or Wi-Fi network"
	}
	return &pb.Evidence{Rule: RuleFarmNetwork, Weight: cfg.Weights[RuleFarmNetwork] * factor,
		Explanation: fmt.Sprintf("%d devices share %s: %s.", len(cl.Members), strength, strings.Join(parts, "; ")),
		Facts:       map[string]string{"devices": fmt.Sprint(len(cl.Members)), "ip_only": fmt.Sprint(cl.IPOnly)}}
}

func listSome(v []string, n int) string {
	if len(v) <= n {
		return strings.Join(v, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(v[:n], ", "), len(v)-n)
}
