package analysis

import (
	"testing"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

func TestAnonymizer(t *testing.T) {
	fires(t, "vpn interface", anonymizer, in(func(i *Input) {
		i.Report.Report.Network = &pb.Network{Interfaces: []*pb.Interface{{Name: "utun4", Kind: "vpn", Up: true}}}
	}), true)
	fires(t, "company vpn interface", anonymizer, in(func(i *Input) {
		i.Report.Report.Network = &pb.Network{Interfaces: []*pb.Interface{{Name: "gpd0", Kind: "vpn", Up: true}}}
		i.Config.Allow.VPNInterfacePrefixes = []string{"gpd"}
	}), false)
	fires(t, "vpn interface down", anonymizer, in(func(i *Input) {
		i.Report.Report.Network = &pb.Network{Interfaces: []*pb.Interface{{Name: "tun0", Kind: "vpn"}}}
	}), false)
	fires(t, "hosting ASN", anonymizer, in(func(i *Input) { i.Report.Location.Anonymizer = "hosting" }), true)
	fires(t, "vpn client", anonymizer, in(func(i *Input) {
		i.Report.Report.VpnClients = []*pb.ToolMatch{{ToolId: "astrill", Name: "Astrill VPN", Process: "astrill"}}
	}), true)
	fires(t, "vpn client by its interface", anonymizer, in(func(i *Input) {
		i.Report.Report.VpnClients = []*pb.ToolMatch{{ToolId: "tailscale", Name: "Tailscale",
			Seen: []string{"interface"}, Interfaces: []string{"tailscale0"}}}
	}), true)
	ev := anonymizer(in(func(i *Input) {
		i.Report.Report.VpnClients = []*pb.ToolMatch{{ToolId: "tailscale", Name: "Tailscale",
			Seen: []string{"interface"}, Interfaces: []string{"tailscale0"}}}
	}))
	if got := ev.GetFacts()["vpn_client.tailscale"]; got != "tailscale0" {
		t.Errorf("fact vpn_client.tailscale = %q, want the interface tailscale0", got)
	}
	fires(t, "vpn client installed, not running", anonymizer, in(func(i *Input) {
		i.Report.Report.VpnClients = []*pb.ToolMatch{{ToolId: "nordvpn", Name: "NordVPN", Path: "/usr/sbin/nordvpnd",
			Seen: []string{"installed"}}}
	}), false)
	fires(t, "company vpn client", anonymizer, in(func(i *Input) {
		i.Report.Report.VpnClients = []*pb.ToolMatch{{ToolId: "cloudflare-warp", Name: "Cloudflare WARP",
			Process: "warp-svc", Pid: 812, Seen: []string{"running", "installed"}}}
		i.Config.Allow.Tools = []string{"cloudflare-warp"}
	}), false)
}
