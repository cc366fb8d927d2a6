package main

import (
	"testing"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

func TestWifiSummary(t *testing.T) {
	tests := []struct {
		name string
		in   *pb.Wifi
		want string
	}{
		{"connected", &pb.Wifi{Ssid: "HomeNet", Bssid: "a4:2b:b0:c1:7e:03", SignalDbm: -63,
			Nearby: []*pb.BSS{{Bssid: "a4:2b:b0:c1:7e:03"}, {Ssid: "x"}}},
			"connected to BSSID a4:2b:b0:c1:7e:03; signal -63 dBm; 2 nearby networks, 1 with a BSSID"},
		{"macOS without Location Services", &pb.Wifi{SignalDbm: -52, Withheld: "location_permission",
			Nearby: []*pb.BSS{{SignalDbm: -52}, {}}},
			"BSSIDs withheld: the agent lacks location permission (macOS Location Services, Windows 11 24H2 location consent), " +
				"so this device cannot link to others by Wi-Fi; signal -52 dBm; 2 nearby networks, 0 with a BSSID"},
		{"macOS with permission, nearby unlisted", &pb.Wifi{Ssid: "HomeNet", Bssid: "a4:2b:b0:c1:7e:03", Withheld: "not_listed"},
			"connected to BSSID a4:2b:b0:c1:7e:03; signal unknown; 0 nearby networks, 0 with a BSSID (the OS lists nearby networks without BSSIDs)"},
		{"not connected", &pb.Wifi{}, "not connected; 0 nearby networks, 0 with a BSSID"},
	}
	for _, tt := range tests {
		if got := wifiSummary(tt.in); got != tt.want {
			t.Errorf("%s:\ngot  %s\nwant %s", tt.name, got, tt.want)
		}
	}
}
