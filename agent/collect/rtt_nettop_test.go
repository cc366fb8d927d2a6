package collect

import (
	"net/netip"
	"slices"
	"testing"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

func TestParseNettop(t *testing.T) {
	ap := netip.MustParseAddrPort
	sock := func(l, r string, us uint32) tcpSocket {
		return tcpSocket{Local: ap(l), Remote: ap(r), RTT: us, HasInfo: true}
	}
	tests := []struct {
		file string
		want []tcpSocket
	}{
		{"nettop-m-tcp-L1_15_rtt-avg.txt", []tcpSocket{
			sock("192.168.1.23:52001", "203.0.113.9:443", 23160),
			sock("192.168.1.23:52002", "198.51.100.40:6568", 108530),
			sock("[2001:db8:5::23]:52100", "[2001:db8:9::1]:443", 12400),
			sock("[fe80::1%lo0]:49321", "[fe80::1%lo0]:631", 50),
		}},
		{"nettop-m-tcp-L1_14_all-columns.txt", []tcpSocket{
			sock("192.168.3.37:56241", "17.57.145.55:5223", 108530),
			sock("192.168.3.37:50112", "198.51.100.77:5938", 41020),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			got := parseNettop(testdataFile(t, "darwin", tt.file))
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestParseNettopRTT(t *testing.T) {
	tests := []struct {
		in   string
		us   uint32
		okay bool
	}{
		{"23.16 ms", 23160, true}, {"7", 7000, true}, {"850 us", 850, true}, {"1.5 s", 1_500_000, true},
		{"0.0001 ms", 1, true}, {"", 0, false}, {"0.00 ms", 0, false}, {"-3 ms", 0, false},
		{"NaN ms", 0, false}, {"Inf ms", 0, false}, {"65 s", 0, false}, {"12 parsecs", 0, false},
	}
	for _, tt := range tests {
		us, ok := parseNettopRTT(tt.in)
		if us != tt.us || ok != tt.okay {
			t.Errorf("%q: got %d %v, want %d %v", tt.in, us, ok, tt.us, tt.okay)
		}
	}
}

// The catalogued tool's connection gets nettop's RTT; others are untouched.
func TestNettopFillsToolConnections(t *testing.T) {
	anydesk := &pb.Connection{Protocol: "tcp", LocalAddress: "192.168.1.23", LocalPort: 52002, RemoteAddress: "198.51.100.40", RemotePort: 6568}
	unseen := &pb.Connection{Protocol: "tcp", LocalAddress: "192.168.1.23", LocalPort: 52999, RemoteAddress: "198.51.100.40", RemotePort: 6568}
	udp := &pb.Connection{Protocol: "udp", LocalAddress: "192.168.1.23", LocalPort: 52001, RemoteAddress: "203.0.113.9", RemotePort: 443}
	tools := []*pb.ToolMatch{{Connections: []*pb.Connection{anydesk, unseen, udp}}}
	n := applyTCPInfo(tcpConnections(tools), parseNettop(testdataFile(t, "darwin", "nettop-m-tcp-L1_15_rtt-avg.txt")))
	if n != 1 || anydesk.GetRttUs() != 108530 || anydesk.GetRttVarUs() != 0 || unseen.GetRttUs() != 0 || udp.GetRttUs() != 0 {
		t.Errorf("filled %d: anydesk %d/%d, unseen %d, udp %d", n, anydesk.GetRttUs(), anydesk.GetRttVarUs(), unseen.GetRttUs(), udp.GetRttUs())
	}
}
