package collect

import (
	"context"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/farmwatch/farmwatch/internal/reportlimit"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// denseReport merges, into one report, what the collectors and parsers make
// of every real-format fixture (Linux roots and captures, macOS and Windows
// command outputs) and of this machine's own host and interfaces: a report
// denser than any one laptop's, since its lists are the union of several
// machines'.
func denseReport(t *testing.T) *pb.Report {
	t.Helper()
	ctx := context.Background()
	r := Collect(ctx, HostEnv(), Options{Only: []string{"host", "interfaces"}})

	laptop := commandEnv(fixtureEnv(t, "laptop", january).Root, map[string][]byte{
		nmcliWifiList: testdataFile(t, "linux", "commands/nmcli-wifi-list.txt"),
		"gsettings list-recursively org.gnome.system.proxy": testdataFile(t, "linux", "commands/gsettings-proxy-manual.txt"),
	})
	laptop.Getenv = func(k string) string {
		if k == "DBUS_SESSION_BUS_ADDRESS" {
			return "unix:path=/run/user/1000/bus"
		}
		return ""
	}
	proto.Merge(r, Collect(ctx, laptop, Options{Only: []string{"gateway", "dns", "neighbors", "wifi", "proxy", "locale"}}))
	proto.Merge(r, Collect(ctx, fixtureEnv(t, "kvm", january), Options{Only: []string{"usb", "power"}}))

	for _, f := range []string{"system_profiler_usb_sequoia.json", "system_profiler_usb_tahoe.json"} {
		devs, err := parseSystemProfilerUSB(readFixture(t, "darwin", f))
		if err != nil {
			t.Fatal(err)
		}
		p, err := usbReport(devs)
		if err != nil {
			t.Fatal(err)
		}
		proto.Merge(r, &pb.Report{Peripherals: p})
	}
	if p, err := usbReport(windowsUSBDevices(loadPnputil(t, readFixture(t, "windows", "pnputil_usb_connected_ids.txt")))); err == nil {
		proto.Merge(r, &pb.Report{Peripherals: p})
	}
	displays, err := parseSystemProfilerDisplays(readFixture(t, "darwin", "system_profiler_displays.json"))
	if err != nil {
		t.Fatal(err)
	}
	airport, err := parseSystemProfilerAirPort(testdataFile(t, "darwin", "system_profiler-airport-located.json"))
	if err != nil {
		t.Fatal(err)
	}
	netsh, err := windowsWifi(testdataFile(t, "windows", "netsh-wlan-show-interfaces.txt"), testdataFile(t, "windows", "netsh-wlan-show-networks.txt"))
	if err != nil {
		t.Fatal(err)
	}
	proto.Merge(r, &pb.Report{
		Peripherals: &pb.Peripherals{Displays: displays},
		Network: &pb.Network{Wifi: &pb.Wifi{Nearby: append(airport.GetNearby(), netsh.GetNearby()...)},
			Neighbors:  parseArpAn(testdataFile(t, "darwin", "arp-an.txt")),
			DnsServers: parseScutilDNS(testdataFile(t, "darwin", "scutil-dns.txt"))},
		RemoteAccess: &pb.RemoteAccess{Sessions: parseWho(testdataFile(t, "darwin", "who.txt"), january, time.UTC)},
	})
	return r
}

// TestDenseFixtureReportFitsTheCap measures the densest report the fixtures
// make and checks the limits leave it room: the whole report a
// reportlimit.MaxReportBytes of at least 16 times its size, each list a
// limit of at least twice its length. The numbers are in the log (-v).
func TestDenseFixtureReportFitsTheCap(t *testing.T) {
	own := Collect(context.Background(), HostEnv(), Options{})
	t.Logf("this machine's report: %d bytes", proto.Size(own))
	r := denseReport(t)
	size := proto.Size(r)
	t.Logf("dense fixture report: %d bytes; cap %d bytes, %.0f times", size, reportlimit.MaxReportBytes,
		float64(reportlimit.MaxReportBytes)/float64(size))
	if 16*size > reportlimit.MaxReportBytes {
		t.Errorf("the report cap %d is less than 16 times the dense report's %d bytes", reportlimit.MaxReportBytes, size)
	}
	var visit func(m protoreflect.Message)
	visit = func(m protoreflect.Message) {
		m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
			switch {
			case fd.IsList():
				n := v.List().Len()
				t.Logf("%-40s %4d entries, limit %d", fd.FullName(), n, reportlimit.List(fd))
				if 2*n > reportlimit.List(fd) {
					t.Errorf("%s: %d entries in the dense report, limit %d is less than twice that", fd.FullName(), n, reportlimit.List(fd))
				}
				if fd.Message() != nil {
					for i := 0; i < n; i++ {
						visit(v.List().Get(i).Message())
					}
				}
			case fd.Message() != nil && !fd.IsMap():
				visit(v.Message())
			}
			return true
		})
	}
	visit(r.ProtoReflect())
}
