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
}
