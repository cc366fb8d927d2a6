package analysis

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/farmwatch/farmwatch/geo"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

func init() {
	register(RuleSpec{ID: RuleRTTMismatch, Class: ClassWeak, Source: SourceReport, Weight: 1.5, Eval: rttMismatch,
		Decay: Decay{Hold: 24 * time.Hour, Fade: 48 * time.Hour},
		Doc:   "a remote-access connection's round trip is longer than the distance to its peer's located address allows (`geo.rtt_path_factor` x 1 ms per 100 km + `geo.rtt_overhead_ms`, and at least `geo.rtt_min_ms`): the controller sits farther away, behind an IP-level VPN whose exit is near the laptop"})
}

// kmPerMS is how far light in fibre gets and back in one millisecond of
// round trip: 200 km/ms one way, so every 100 km of distance adds at least
// 1 ms of round-trip time.
const kmPerMS = 100

// rttAllowance is the longest round trip, in ms, a peer d km away explains:
// real paths are longer than the great circle and queue, so the distance is
// multiplied by the path factor and a fixed overhead (Wi-Fi, last mile, the
// tool's own processing) is added.
func rttAllowance(cfg *Config, distanceKM float64) float64 {
	return cfg.Geo.RTTPathFactor*distanceKM/kmPerMS + cfg.Geo.RTTOverheadMS
}

// rttMismatch: physics the laptop cannot fake from the other side. A
// controller abroad who reaches the laptop through an IP-level VPN exit next
// to it shows a peer address a few hundred km away but a round trip of a
// continent. A relay that terminates TCP near the laptop (a remote-access
// tool's own relay server, a SOCKS proxy) measures only the leg to the
// relay and hides this (docs/ANALYSIS.md).
func rttMismatch(in Input) *pb.Evidence {
	here := in.located()
	if here == nil || (here.GetLatitude() == 0 && here.GetLongitude() == 0) || len(in.Report.GetPeers()) == 0 {
		return nil
	}
	peers := make(map[string]*pb.PeerLocation, len(in.Report.GetPeers()))
	for _, p := range in.Report.GetPeers() {
		peers[p.GetIp()] = p
	}
	var signs []string
	facts := map[string]string{}
	for _, t := range in.Report.GetReport().GetRemoteAccess().GetTools() {
		if in.Config.toolAllowed(t.GetToolId()) {
			continue
		}
		for _, c := range t.GetConnections() {
			p := peers[c.GetRemoteAddress()]
			loc := p.GetLocation()
			if c.GetRttUs() == 0 || p == nil || !loc.GetGeolocatable() || (loc.GetLatitude() == 0 && loc.GetLongitude() == 0) {
				continue
			}
			rtt := float64(c.GetRttUs()) / 1000
			// The farthest the two could be apart given both accuracy radii.
			far := geo.DistanceKM(here.GetLatitude(), here.GetLongitude(), loc.GetLatitude(), loc.GetLongitude()) +
				here.GetAccuracyKm() + loc.GetAccuracyKm()
			allowed := rttAllowance(in.Config, far)
			if rtt < in.Config.Geo.RTTMinMS || rtt <= allowed {
				continue
			}
			reach := (rtt - in.Config.Geo.RTTOverheadMS) / in.Config.Geo.RTTPathFactor * kmPerMS
			signs = append(signs, fmt.Sprintf("%s's connection to %s (%s, at most %.0f km from the laptop in %s) has a %.0f ms round trip where %.0f ms would do: it fits a peer up to %.0f km away",
				t.GetName(), c.GetRemoteAddress(), place(loc), far, place(here), rtt, allowed, reach))
			facts["rtt_ms."+c.GetRemoteAddress()] = fmt.Sprintf("%.0f", rtt)
			facts["allowed_ms."+c.GetRemoteAddress()] = fmt.Sprintf("%.0f", allowed)
		}
	}
	if len(signs) == 0 {
		return nil
	}
	sort.Strings(signs)
	return in.evidence(RuleRTTMismatch, "The controller is farther than its address: "+strings.Join(signs, "; ")+".", facts)
}
