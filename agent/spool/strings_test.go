package spool

import (
	"path/filepath"
	"testing"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// A report that reaches the spool with bytes that are not UTF-8 (built by
// something other than collect.Collect, or a field the collectors filled
// after their own pass) is still spooled: Add sanitizes before marshalling.
func TestAddSpoolsLegacyEncodings(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "spool.db"), 100)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r := &pb.Report{
		Host: &pb.Host{Hostname: "K\xf6ln"},
		Network: &pb.Network{Interfaces: []*pb.Interface{{Name: "caf\xe90"}},
			Wifi: &pb.Wifi{Ssid: "Caf\xe9", Nearby: []*pb.BSS{{Ssid: "\xd6\xd0\xce\xc4"}}}},
		Peripherals: &pb.Peripherals{Usb: []*pb.USBDevice{{Manufacturer: "K\xf6ln", Product: "\xd6\xd0\xce\xc4"}}},
	}
	if err := s.Add(r); err != nil {
		t.Fatalf("Add: %v", err)
	}
	p, err := s.Pending(1)
	if err != nil || len(p) != 1 {
		t.Fatalf("pending %v, %v", p, err)
	}
	got := p[0]
	for _, c := range []struct{ field, got, want string }{
		{"hostname", got.GetHost().GetHostname(), `K\xf6ln`},
		{"interface", got.GetNetwork().GetInterfaces()[0].GetName(), `caf\xe90`},
		{"ssid", got.GetNetwork().GetWifi().GetSsid(), `Caf\xe9`},
		{"nearby ssid", got.GetNetwork().GetWifi().GetNearby()[0].GetSsid(), `\xd6\xd0\xce\xc4`},
		{"usb manufacturer", got.GetPeripherals().GetUsb()[0].GetManufacturer(), `K\xf6ln`},
		{"usb product", got.GetPeripherals().GetUsb()[0].GetProduct(), `\xd6\xd0\xce\xc4`},
	} {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.field, c.got, c.want)
		}
	}
}
