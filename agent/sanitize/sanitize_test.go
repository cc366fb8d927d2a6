package sanitize

import (
	"strings"
	"testing"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/farmwatch/farmwatch/internal/reportlimit"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// Real byte strings: Latin-1 "Café" and "Köln", GBK "中文" (d6d0 cec4).
const (
	latin1Cafe = "Caf\xe9"
	latin1Koln = "K\xf6ln"
	gbkChinese = "\xd6\xd0\xce\xc4"
)

func TestClean(t *testing.T) {
	tests := []struct {
		name, in     string
		max          int
		want         string
		escaped, cut bool
	}{
		{"ascii", "HomeNet", 64, "HomeNet", false, false},
		{"UTF-8 kept", "Café 中文 \ufffd", 64, "Café 中文 \ufffd", false, false},
		{"Latin-1", latin1Cafe, 64, `Caf\xe9`, true, false},
		{"Latin-1 inside", latin1Koln + "-Süd", 64, `K\xf6ln-Süd`, true, false},
		{"GBK", gbkChinese, 64, `\xd6\xd0\xce\xc4`, true, false},
		{"a truncated UTF-8 sequence", "ab\xe4\xb8", 64, `ab\xe4\xb8`, true, false},
		{"cut at a character boundary", "ééé", 5, "éé", false, true},
		{"an escape is never split", "\xe9\xe9", 5, `\xe9`, true, true},
		{"cut exactly at the limit", "abcdef", 6, "abcdef", false, false},
		{"one over", "abcdefg", 6, "abcdef", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, escaped, cut := Clean(tt.in, tt.max)
			if got != tt.want || escaped != tt.escaped || cut != tt.cut {
				t.Errorf("Clean(%q, %d) = %q, %v, %v; want %q, %v, %v", tt.in, tt.max, got, escaped, cut, tt.want, tt.escaped, tt.cut)
			}
			if !utf8.ValidString(got) || len(got) > tt.max {
				t.Errorf("Clean(%q, %d) = %q: not UTF-8 or over the limit", tt.in, tt.max, got)
			}
		})
	}
}

// A report with Latin-1 and GBK bytes where laptops have them (SSIDs of the
// current and nearby networks, hostname, interface names, USB names) does
// not marshal as it is; sanitized, it does, with every byte kept as \xNN.
func TestReportWithLegacyEncodingsMarshals(t *testing.T) {
	r := &pb.Report{
		Seq: 1, CollectedAt: timestamppb.Now(),
		Host: &pb.Host{Hostname: latin1Koln + "-laptop"},
		Network: &pb.Network{
			Interfaces: []*pb.Interface{{Name: "eth0"}, {Name: "wl" + latin1Cafe}},
			Wifi: &pb.Wifi{Ssid: latin1Cafe, Bssid: "a4:2b:b0:c1:7e:03",
				Nearby: []*pb.BSS{{Ssid: latin1Cafe}, {Ssid: gbkChinese}, {Ssid: "中文"}}},
			Neighbors: []*pb.Neighbor{{Ip: "192.168.1.1", Interface: "wl" + latin1Cafe}},
		},
		Peripherals: &pb.Peripherals{Usb: []*pb.USBDevice{{VendorId: "046d", Manufacturer: latin1Koln, Product: gbkChinese}}},
		Locale:      &pb.Locale{KeyboardLayouts: []string{"us", latin1Cafe}},
	}
	if _, err := proto.Marshal(r); err == nil {
		t.Fatal("the unsanitized report marshalled: the test's bytes are not what a laptop sends")
	}
	ch := Report(r)
	if _, err := proto.Marshal(r); err != nil {
		t.Fatalf("sanitized report does not marshal: %v", err)
	}
	checks := []struct{ field, got, want string }{
		{"host.hostname", r.GetHost().GetHostname(), `K\xf6ln-laptop`},
		{"network.interfaces[1].name", r.GetNetwork().GetInterfaces()[1].GetName(), `wlCaf\xe9`},
		{"network.wifi.ssid", r.GetNetwork().GetWifi().GetSsid(), `Caf\xe9`},
		{"network.wifi.nearby[0].ssid", r.GetNetwork().GetWifi().GetNearby()[0].GetSsid(), `Caf\xe9`},
		{"network.wifi.nearby[1].ssid", r.GetNetwork().GetWifi().GetNearby()[1].GetSsid(), `\xd6\xd0\xce\xc4`},
		{"network.wifi.nearby[2].ssid", r.GetNetwork().GetWifi().GetNearby()[2].GetSsid(), "中文"},
		{"network.neighbors[0].interface", r.GetNetwork().GetNeighbors()[0].GetInterface(), `wlCaf\xe9`},
		{"peripherals.usb[0].manufacturer", r.GetPeripherals().GetUsb()[0].GetManufacturer(), `K\xf6ln`},
		{"peripherals.usb[0].product", r.GetPeripherals().GetUsb()[0].GetProduct(), `\xd6\xd0\xce\xc4`},
		{"locale.keyboard_layouts[1]", r.GetLocale().GetKeyboardLayouts()[1], `Caf\xe9`},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.field, c.got, c.want)
		}
	}
	if ch.Escaped != 9 || ch.Changed() {
		t.Errorf("changes %+v, want 9 strings escaped and nothing cut", ch)
	}
}

// fill sets every string field of m and of every message below it (one
// entry per list) to s, through reflection, so the test covers each field
// the report has, including ones added after this test was written.
func fill(m protoreflect.Message, s string, depth int) {
	fields := m.Descriptor().Fields()
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		switch {
		case fd.IsMap():
			if fd.MapKey().Kind() == protoreflect.StringKind && fd.MapValue().Kind() == protoreflect.StringKind {
				mp := m.Mutable(fd).Map()
				mp.Set(protoreflect.ValueOfString(s).MapKey(), protoreflect.ValueOfString(s))
			}
		case fd.Message() != nil:
			if depth > 8 || fd.Message().FullName() == timestampName {
				continue
			}
			if fd.IsList() {
				l := m.Mutable(fd).List()
				e := l.NewElement()
				fill(e.Message(), s, depth+1)
				l.Append(e)
			} else {
				fill(m.Mutable(fd).Message(), s, depth+1)
			}
		case fd.Kind() == protoreflect.StringKind:
			if fd.IsList() {
				m.Mutable(fd).List().Append(protoreflect.ValueOfString(s))
			} else {
				m.Set(fd, protoreflect.ValueOfString(s))
			}
		}
	}
}

// strings returns every string value under m.
func stringsOf(m protoreflect.Message) []string {
	var out []string
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsList():
			for i := 0; i < v.List().Len(); i++ {
				if fd.Message() != nil {
					out = append(out, stringsOf(v.List().Get(i).Message())...)
				} else if fd.Kind() == protoreflect.StringKind {
					out = append(out, v.List().Get(i).String())
				}
			}
		case fd.IsMap():
			v.Map().Range(func(k protoreflect.MapKey, v protoreflect.Value) bool {
				out = append(out, k.String(), v.String())
				return true
			})
		case fd.Message() != nil:
			out = append(out, stringsOf(v.Message())...)
		case fd.Kind() == protoreflect.StringKind:
			out = append(out, v.String())
		}
		return true
	})
	return out
}

// Every string field of the report, whatever its depth, is sanitized:
// the walk goes by the descriptors, not by a list of fields.
func TestEveryStringFieldIsCovered(t *testing.T) {
	r := &pb.Report{}
	fill(r.ProtoReflect(), gbkChinese, 0)
	all := stringsOf(r.ProtoReflect())
	if len(all) < 60 {
		t.Fatalf("only %d string fields filled: the fill walk is broken", len(all))
	}
	Report(r)
	if _, err := proto.Marshal(r); err != nil {
		t.Fatalf("sanitized report does not marshal: %v", err)
	}
	for i, s := range stringsOf(r.ProtoReflect()) {
		if s != `\xd6\xd0\xce\xc4` {
			t.Errorf("string %d = %q, want it escaped", i, s)
		}
	}
}

func TestLimitsAreTheCollectors(t *testing.T) {
	r := &pb.Report{
		Host: &pb.Host{Hostname: strings.Repeat("h", 300)},
		Network: &pb.Network{
			Interfaces: make([]*pb.Interface, 300),
			Wifi:       &pb.Wifi{Ssid: strings.Repeat("\xff", 40)},
		},
	}
	for i := range r.Network.Interfaces {
		r.Network.Interfaces[i] = &pb.Interface{Name: "veth" + strings.Repeat("x", 70)}
	}
	ch := Report(r)
	if got := len(r.GetHost().GetHostname()); got != 255 {
		t.Errorf("hostname %d bytes, want the collector's 255", got)
	}
	if got := len(r.GetNetwork().GetInterfaces()); got != 256 {
		t.Errorf("%d interfaces, want the collector's 256", got)
	}
	if got := len(r.GetNetwork().GetInterfaces()[0].GetName()); got != 64 {
		t.Errorf("interface name %d bytes, want 64", got)
	}
	// 40 bytes escaped are 160 characters: cut at 128, a whole escape at a time.
	if got := r.GetNetwork().GetWifi().GetSsid(); got != strings.Repeat(`\xff`, 32) {
		t.Errorf("ssid %q, want 32 escapes", got)
	}
	want := []string{"farmwatch.v1.Host.hostname", "farmwatch.v1.Interface.name", "farmwatch.v1.Network.interfaces", "farmwatch.v1.Wifi.ssid"}
	if strings.Join(ch.Cut, " ") != strings.Join(want, " ") {
		t.Errorf("cut %v, want %v", ch.Cut, want)
	}
	if !strings.Contains(ch.String(), "cut to the collector's limits: farmwatch.v1.Host.hostname") {
		t.Errorf("sentence %q", ch.String())
	}
}

// A report within every field's limit can still be larger than a report may
// be; the largest list is halved until it fits.
func TestReportCutToMaxReportBytes(t *testing.T) {
	r := &pb.Report{Host: &pb.Host{Hostname: "laptop"}, Network: &pb.Network{}}
	for range 1024 {
		r.Network.Neighbors = append(r.Network.Neighbors, &pb.Neighbor{Ip: "10.0.0.1", Interface: strings.Repeat("i", 1000)})
	}
	if proto.Size(r) <= reportlimit.MaxReportBytes {
		t.Fatal("test report is within the cap already")
	}
	ch := Report(r)
	if n := proto.Size(r); n > reportlimit.MaxReportBytes {
		t.Fatalf("report is %d bytes after sanitizing, cap %d", n, reportlimit.MaxReportBytes)
	}
	if n := len(r.GetNetwork().GetNeighbors()); n != 256 {
		t.Errorf("%d neighbours kept, want 256 (halved from 1024 until under the cap)", n)
	}
	if r.GetHost().GetHostname() != "laptop" {
		t.Errorf("hostname changed: %q", r.GetHost().GetHostname())
	}
	if len(ch.Cut) != 1 || ch.Cut[0] != "farmwatch.v1.Network.neighbors" {
		t.Errorf("cut %v, want the neighbour list", ch.Cut)
	}
}

// A timestamp no clock can mean is removed rather than left to make the
// collector refuse the whole report.
func TestBadTimestampsRemoved(t *testing.T) {
	r := &pb.Report{
		CollectedAt: timestamppb.Now(),
		Host:        &pb.Host{Hostname: "laptop", BootTime: &timestamppb.Timestamp{Seconds: 1 << 62}},
		RemoteAccess: &pb.RemoteAccess{Sessions: []*pb.Session{
			{User: "a", Started: &timestamppb.Timestamp{Nanos: -1}},
			{User: "b", Started: timestamppb.Now()},
		}},
	}
	ch := Report(r)
	if r.GetHost().GetBootTime() != nil {
		t.Errorf("boot time %v kept", r.GetHost().GetBootTime())
	}
	if ss := r.GetRemoteAccess().GetSessions(); len(ss) != 2 || ss[0].GetStarted() != nil || ss[1].GetStarted() == nil {
		t.Errorf("sessions %v: want the first one's bad start removed, the second's kept", ss)
	}
	if r.GetCollectedAt() == nil {
		t.Error("a valid timestamp was removed")
	}
	if len(ch.Cleared) != 2 {
		t.Errorf("cleared %v, want two fields", ch.Cleared)
	}
}
