package analysis

import (
	"strings"
	"testing"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// The laptop in Austin, AnyDesk's peer at peerKM, round trip rttMS.
func rttInput(peer city, accuracy float64, rttMS float64, tool string) func(*Input) {
	return func(i *Input) {
		i.Report.Report.RemoteAccess = &pb.RemoteAccess{Tools: []*pb.ToolMatch{{ToolId: tool, Name: "AnyDesk", Process: "AnyDesk",
			Connections: []*pb.Connection{{RemoteAddress: "23.230.105.9", RemotePort: 443, State: "established", RttUs: uint32(rttMS * 1000)}}}}}
		i.Report.Peers = []*pb.PeerLocation{{Ip: "23.230.105.9", ToolId: tool, Location: &pb.IPLocation{Country: peer.country,
			City: peer.name, Latitude: peer.lat, Longitude: peer.lon, AccuracyKm: accuracy, Geolocatable: true}}}
	}
}

func TestRTTMismatch(t *testing.T) {
	// Austin (accuracy 20 km) to Santa Clara is 2,376 km; with the peer's 20
	// km radius at most 2,416 km: 2 x 24.16 + 50 = 98.3 ms allowed.
	fires(t, "235 ms to California", rttMismatch, in(rttInput(sanJose, 20, 235, "anydesk")), true)
	fires(t, "99 ms, just over the allowance", rttMismatch, in(rttInput(sanJose, 20, 99, "anydesk")), false) // under rtt_min_ms 150
	fires(t, "150 ms, at rtt_min_ms", rttMismatch, in(rttInput(sanJose, 20, 150, "anydesk")), true)
	fires(t, "149 ms, under rtt_min_ms", rttMismatch, in(rttInput(sanJose, 20, 149, "anydesk")), false)
	// A peer in Pyongyang, 11,000 km away, explains any plausible round trip.
	fires(t, "235 ms to Pyongyang", rttMismatch, in(rttInput(pyongyang, 50, 235, "anydesk")), false)
	// A wide accuracy radius widens the allowance: 2 x (2,376 + 20 + 2,000)/100 + 50 = 138 ms, then 160 ms is not enough.
	fires(t, "peer located within 2,000 km only", rttMismatch, in(rttInput(sanJose, 2000, 160, "anydesk")), true)
	fires(t, "peer located within 5,000 km only", rttMismatch, in(rttInput(sanJose, 5000, 160, "anydesk")), false)
	fires(t, "no RTT measured", rttMismatch, in(rttInput(sanJose, 20, 0, "anydesk")), false)
	fires(t, "the company's sanctioned tool", rttMismatch, in(func(i *Input) {
		rttInput(sanJose, 20, 235, "anydesk")(i)
		i.Config.Allow.Tools = []string{"anydesk"}
	}), false)
	fires(t, "laptop not located", rttMismatch, in(func(i *Input) {
		rttInput(sanJose, 20, 235, "anydesk")(i)
		i.Report.Location = &pb.IPLocation{Range: "cgnat"}
	}), false)
	ev := rttMismatch(in(rttInput(sanJose, 20, 235, "anydesk")))
	if ev == nil || !strings.Contains(ev.GetExplanation(), "235 ms round trip where 98 ms would do") ||
		!strings.Contains(ev.GetExplanation(), "up to 9250 km away") || ev.GetFacts()["rtt_ms.23.230.105.9"] != "235" {
		t.Errorf("explanation: %v", ev)
	}
}
