package collect

import (
	"context"
	"strings"
	"time"

	psnet "github.com/shirou/gopsutil/v4/net"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

func init() { register("interfaces", 5*time.Second, collectInterfaces) }

// Interface kinds.
const (
	KindPhysical = "physical"
	KindWifi     = "wifi"
	KindVPN      = "vpn"
	KindVirtual  = "virtual"
	KindLoopback = "loopback"
)

// collectInterfaces lists interfaces with their MACs, addresses and kind.
func collectInterfaces(ctx context.Context, env *Env, r *pb.Report) error {
	ifs, err := psnet.InterfacesWithContext(ctx)
	if err != nil {
		return err
	}
	if r.Network == nil {
		r.Network = &pb.Network{}
	}
	kind := interfaceClassifier(ctx, env)
	for _, i := range ifs {
		out := &pb.Interface{Name: i.Name, Mac: strings.ToLower(i.HardwareAddr), Mtu: uint32(i.MTU)}
		for _, f := range i.Flags {
			if f == "up" {
				out.Up = true
			}
		}
		for _, a := range i.Addrs {
			out.Addresses = append(out.Addresses, a.Addr)
		}
		out.Kind = kind(i.Name, i.Flags)
		r.Network.Interfaces = append(r.Network.Interfaces, out)
	}
	return nil
}

// vpnPrefixes are interface names that tunnel: OpenVPN and most consumer
// VPNs (tun/tap), WireGuard (wg), PPP/PPTP/L2TP (ppp), macOS (utun, ipsec),
// and clients that name their adapters after themselves.
var vpnPrefixes = []string{"tun", "tap", "wg", "ppp", "utun", "ipsec", "gpd", "astrill", "nordlynx",
	"proton", "mullvad", "tailscale", "zt", "cscotun", "vpn", "pia"}

var virtualPrefixes = []string{"docker", "br-", "veth", "virbr", "vmnet", "vboxnet", "lxc", "lxd",
	"cni", "flannel", "cali", "kube", "bridge", "awdl", "llw", "anpi", "ap", "gif", "stf", "vethernet",
	"dummy"}

// kindFromName classifies by name alone (the fallback on every OS).
func kindFromName(name string, flags []string) string {
	n := strings.ToLower(name)
	for _, f := range flags {
		if f == "loopback" {
			return KindLoopback
		}
	}
	if n == "lo" || strings.HasPrefix(n, "lo0") || strings.Contains(n, "loopback") {
		return KindLoopback
	}
	for _, p := range vpnPrefixes {
		if strings.HasPrefix(n, p) || (len(p) > 4 && strings.Contains(n, p)) {
			return KindVPN
		}
	}
	for _, p := range virtualPrefixes {
		if strings.HasPrefix(n, p) {
			return KindVirtual
		}
	}
	if strings.HasPrefix(n, "wl") || strings.HasPrefix(n, "wi-fi") || strings.Contains(n, "wireless") {
		return KindWifi
	}
	return KindPhysical
}
