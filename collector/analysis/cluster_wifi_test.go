package analysis

import (
	"testing"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// An agent reports signal 0 when the OS gave none (macOS lists some nearby
// networks without one): such a network is the weakest, never the
// strongest, when the report's nearby fingerprints are chosen.
func TestNearbyUnknownSignalIsWeakest(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Cluster.NearbyPerReport = 2
	w := &pb.Wifi{Nearby: []*pb.BSS{
		{Bssid: "9c:53:22:00:00:01", SignalDbm: 0},
		{Bssid: "9c:53:22:00:00:02", SignalDbm: -85},
		{Bssid: "9c:53:22:00:00:03", SignalDbm: -60},
		{Bssid: "9c:53:22:00:00:04", SignalDbm: -119},
	}}
	got := nearbyFingerprints(&cfg, w, "")
	if len(got) != 2 || got[0].Value != "9c:53:22:00:00:03" || got[1].Value != "9c:53:22:00:00:02" {
		t.Errorf("got %v, want the -60 and -85 dBm networks", got)
	}
}
