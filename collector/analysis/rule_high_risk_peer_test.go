package analysis

import (
	"testing"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

func TestHighRiskPeerAndRAT(t *testing.T) {
	peer := func(country, tool string) func(*Input) {
		return func(i *Input) {
			i.Report.Report.RemoteAccess = &pb.RemoteAccess{Tools: []*pb.ToolMatch{{ToolId: tool, Name: "AnyDesk", Process: "AnyDesk",
				Connections: []*pb.Connection{{RemoteAddress: "113.224.1.5", RemotePort: 443}}}}}
			i.Report.Peers = []*pb.PeerLocation{{Ip: "113.224.1.5", ToolId: tool, Location: &pb.IPLocation{Country: country, City: "Shenyang"}}}
		}
	}
	fires(t, "peer in CN", highRiskPeer, in(peer("CN", "anydesk")), true)
	fires(t, "peer in DE", highRiskPeer, in(peer("DE", "anydesk")), false)
	fires(t, "tool present", ratPresent, in(peer("DE", "anydesk")), true)
	fires(t, "remote session", remoteSession, in(peer("DE", "anydesk")), true)
	allowed := func(i *Input) { peer("CN", "anydesk")(i); i.Config.Allow.Tools = []string{"anydesk"} }
	fires(t, "sanctioned tool: rat", ratPresent, in(allowed), false)
	fires(t, "sanctioned tool: peer", highRiskPeer, in(allowed), false)
	fires(t, "no tools", ratPresent, in(nil), false)
	fires(t, "rdp session", remoteSession, in(func(i *Input) {
		i.Report.Report.RemoteAccess = &pb.RemoteAccess{Sessions: []*pb.Session{{Type: "rdp", RemoteHost: "10.0.0.5"}}}
	}), true)
	fires(t, "console session", remoteSession, in(func(i *Input) {
		i.Report.Report.RemoteAccess = &pb.RemoteAccess{Sessions: []*pb.Session{{Type: "console"}}}
	}), false)
}
