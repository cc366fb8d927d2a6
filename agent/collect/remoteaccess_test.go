package collect

import (
	"context"
	"runtime"
	"strings"
	"sync"
	"testing"

	psnet "github.com/shirou/gopsutil/v4/net"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/farmwatch/farmwatch/agent/catalog"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// Socket families and types as gopsutil reports them on Linux.
const (
	afInet, afInet6      = 2, 10
	sockStream, sockDgrm = 1, 2
)

var benignProcs = []Proc{
	{PID: 1, Name: "systemd", Exe: "/usr/lib/systemd/systemd"},
	{PID: 812, Name: "sshd", Exe: "/usr/sbin/sshd"},
	{PID: 2051, Name: "bash", Exe: "/usr/bin/bash"},
	{PID: 2290, Name: "firefox", Exe: "/usr/lib/firefox/firefox"},
	{PID: 2417, Name: "code", Exe: "/usr/share/code/code"},
}

// catalogued processes, deliberately out of order.
var remoteProcs = []Proc{
	{PID: 4100, Name: "x11vnc", Exe: "/usr/bin/x11vnc"},
	{PID: 3200, Name: "anydesk", Exe: "/usr/share/anydesk/anydesk"},
	{PID: 3100, Name: "anydesk", Exe: "/usr/share/anydesk/anydesk"},
}

func fakeConnections() map[int32][]psnet.ConnectionStat {
	return map[int32][]psnet.ConnectionStat{
		812: {{Family: afInet, Type: sockStream, Laddr: psnet.Addr{IP: "0.0.0.0", Port: 22},
			Raddr: psnet.Addr{IP: "0.0.0.0"}, Status: "LISTEN"}},
		2290: {{Family: afInet, Type: sockStream, Laddr: psnet.Addr{IP: "192.168.1.58", Port: 50412},
			Raddr: psnet.Addr{IP: "140.82.112.3", Port: 443}, Status: "ESTABLISHED"}},
		4100: {
			{Family: afInet, Type: sockStream, Laddr: psnet.Addr{IP: "0.0.0.0", Port: 5900},
				Raddr: psnet.Addr{IP: "0.0.0.0"}, Status: "LISTEN"},
			{Family: afInet6, Type: sockStream, Laddr: psnet.Addr{IP: "::", Port: 5900},
				Raddr: psnet.Addr{IP: "::"}, Status: "LISTEN"},
		},
		3200: {
			{Family: afInet, Type: sockStream, Laddr: psnet.Addr{IP: "192.168.1.58", Port: 41458},
				Raddr: psnet.Addr{IP: "175.45.176.5", Port: 7070}, Status: "ESTABLISHED"},
			// An unconnected UDP socket as gopsutil decodes it from /proc/net/udp.
			{Family: afInet, Type: sockDgrm, Laddr: psnet.Addr{IP: "0.0.0.0", Port: 50001},
				Raddr: psnet.Addr{IP: "0.0.0.0"}, Status: "NONE"},
		},
	}
}

// swapProcessView feeds collectRemoteAccess a fake process table and returns
// the PIDs whose sockets were asked for.
func swapProcessView(t *testing.T, procs []Proc, conns map[int32][]psnet.ConnectionStat) func() []int32 {
	t.Helper()
	oldList, oldConns := listProcesses, connectionsOf
	t.Cleanup(func() { listProcesses, connectionsOf = oldList, oldConns })
	var mu sync.Mutex
	var asked []int32
	listProcesses = func(context.Context) ([]Proc, error) { return procs, nil }
	connectionsOf = func(_ context.Context, pid int32) ([]psnet.ConnectionStat, error) {
		mu.Lock()
		defer mu.Unlock()
		asked = append(asked, pid)
		return conns[pid], nil
	}
	return func() []int32 {
		mu.Lock()
		defer mu.Unlock()
		return append([]int32(nil), asked...)
	}
}

func wantRemoteTools() []*pb.ToolMatch {
	return []*pb.ToolMatch{
		{ToolId: "anydesk", Name: "AnyDesk", Process: "anydesk", Path: "/usr/share/anydesk/anydesk", Pid: 3100},
		{ToolId: "anydesk", Name: "AnyDesk", Process: "anydesk", Path: "/usr/share/anydesk/anydesk", Pid: 3200,
			Listening: []*pb.Socket{{Protocol: "udp", Address: "0.0.0.0", Port: 50001}},
			Connections: []*pb.Connection{{Protocol: "tcp", LocalAddress: "192.168.1.58", LocalPort: 41458,
				RemoteAddress: "175.45.176.5", RemotePort: 7070, State: "established"}}},
		{ToolId: "x11vnc", Name: "x11vnc", Process: "x11vnc", Path: "/usr/bin/x11vnc", Pid: 4100,
			Listening: []*pb.Socket{{Protocol: "tcp", Address: "0.0.0.0", Port: 5900},
				{Protocol: "tcp6", Address: "::", Port: 5900}}},
	}
}

func assertTools(t *testing.T, got, want []*pb.ToolMatch) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d tools, want %d:\n%v", len(got), len(want), got)
	}
	for i := range want {
		if !proto.Equal(got[i], want[i]) {
			t.Errorf("tool %d:\n got %v\nwant %v", i, got[i], want[i])
		}
	}
}

func TestMatchToolsOnlyCatalogued(t *testing.T) {
	procs := append(append([]Proc{}, benignProcs[:3]...), remoteProcs...)
	procs = append(procs, benignProcs[3:]...)
	asked := swapProcessView(t, procs, fakeConnections())
	got := matchTools(context.Background(), catalog.RemoteAccess(), "linux", procs)
	assertTools(t, got, wantRemoteTools())
	for _, pid := range asked() {
		for _, b := range benignProcs {
			if pid == b.PID {
				t.Errorf("sockets of uncatalogued %s (pid %d) were read", b.Name, pid)
			}
		}
	}
}

func TestAddSockets(t *testing.T) {
	tests := []struct {
		name   string
		in     psnet.ConnectionStat
		listen *pb.Socket
		conn   *pb.Connection
	}{
		{name: "tcp listen", in: psnet.ConnectionStat{Family: afInet, Type: sockStream,
			Laddr: psnet.Addr{IP: "0.0.0.0", Port: 7070}, Raddr: psnet.Addr{IP: "0.0.0.0"}, Status: "LISTEN"},
			listen: &pb.Socket{Protocol: "tcp", Address: "0.0.0.0", Port: 7070}},
		{name: "linux udp, peer decoded as 0.0.0.0", in: psnet.ConnectionStat{Family: afInet, Type: sockDgrm,
			Laddr: psnet.Addr{IP: "0.0.0.0", Port: 50001}, Raddr: psnet.Addr{IP: "0.0.0.0"}, Status: "NONE"},
			listen: &pb.Socket{Protocol: "udp", Address: "0.0.0.0", Port: 50001}},
		{name: "linux udp6, peer decoded as ::", in: psnet.ConnectionStat{Family: afInet6, Type: sockDgrm,
			Laddr: psnet.Addr{IP: "::", Port: 5353}, Raddr: psnet.Addr{IP: "::"}, Status: "NONE"},
			listen: &pb.Socket{Protocol: "udp6", Address: "::", Port: 5353}},
		{name: "windows udp, no peer", in: psnet.ConnectionStat{Family: 2, Type: sockDgrm,
			Laddr: psnet.Addr{IP: "0.0.0.0", Port: 3389}},
			listen: &pb.Socket{Protocol: "udp", Address: "0.0.0.0", Port: 3389}},
		{name: "windows tcp6 listen", in: psnet.ConnectionStat{Family: 23, Type: sockStream,
			Laddr: psnet.Addr{IP: "::", Port: 3389}, Status: "LISTEN"},
			listen: &pb.Socket{Protocol: "tcp6", Address: "::", Port: 3389}},
		{name: "established", in: psnet.ConnectionStat{Family: afInet, Type: sockStream,
			Laddr: psnet.Addr{IP: "192.168.1.58", Port: 41458}, Raddr: psnet.Addr{IP: "175.45.176.5", Port: 7070},
			Status: "ESTABLISHED"},
			conn: &pb.Connection{Protocol: "tcp", LocalAddress: "192.168.1.58", LocalPort: 41458,
				RemoteAddress: "175.45.176.5", RemotePort: 7070, State: "established"}},
		{name: "connected udp", in: psnet.ConnectionStat{Family: afInet, Type: sockDgrm,
			Laddr: psnet.Addr{IP: "192.168.1.58", Port: 50001}, Raddr: psnet.Addr{IP: "175.45.176.5", Port: 50001},
			Status: "NONE"},
			conn: &pb.Connection{Protocol: "udp", LocalAddress: "192.168.1.58", LocalPort: 50001,
				RemoteAddress: "175.45.176.5", RemotePort: 50001, State: "none"}},
		{name: "bound tcp, neither listening nor connected", in: psnet.ConnectionStat{Family: afInet, Type: sockStream,
			Laddr: psnet.Addr{IP: "0.0.0.0", Port: 40000}, Raddr: psnet.Addr{IP: "0.0.0.0"}, Status: "CLOSE"}},
		{name: "udp with no local port", in: psnet.ConnectionStat{Family: afInet, Type: sockDgrm,
			Laddr: psnet.Addr{IP: "0.0.0.0"}, Raddr: psnet.Addr{IP: "0.0.0.0"}, Status: "NONE"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &pb.ToolMatch{}
			addSockets(m, []psnet.ConnectionStat{tt.in})
			want := &pb.ToolMatch{}
			if tt.listen != nil {
				want.Listening = []*pb.Socket{tt.listen}
			}
			if tt.conn != nil {
				want.Connections = []*pb.Connection{tt.conn}
			}
			if !proto.Equal(m, want) {
				t.Errorf("got %v, want %v", m, want)
			}
		})
	}
}

// TestCollectRemoteAccessPrivacy checks the privacy boundary on the whole
// serialized report: nothing of an uncatalogued process leaves the agent.
func TestCollectRemoteAccessPrivacy(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the fake process table uses Linux process names")
	}
	procs := append(append([]Proc{}, benignProcs...), remoteProcs...)
	asked := swapProcessView(t, procs, fakeConnections())
	r := Collect(context.Background(), rootEnv(t.TempDir(), january), Options{Only: []string{"remote_access"}})
	if len(r.GetErrors()) != 0 {
		t.Fatalf("errors: %v", r.GetErrors())
	}
	ra := r.GetRemoteAccess()
	if ra.GetCatalogVersion() != catalog.RemoteAccess().Version {
		t.Errorf("catalog version %q", ra.GetCatalogVersion())
	}
	assertTools(t, ra.GetTools(), wantRemoteTools())
	if got := len(asked()); got != len(remoteProcs) {
		t.Errorf("sockets read for %d processes, want %d (catalogued only)", got, len(remoteProcs))
	}

	b, err := protojson.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	js := string(b)
	for _, p := range benignProcs {
		for _, s := range []string{p.Name, p.Exe} {
			if strings.Contains(js, s) {
				t.Errorf("report mentions uncatalogued %q:\n%s", s, js)
			}
		}
	}
	for _, s := range []string{"140.82.112.3", "50412"} { // firefox's connection
		if strings.Contains(js, s) {
			t.Errorf("report carries an uncatalogued process's socket %q", s)
		}
	}
	for _, s := range []string{`"port":5900`, `"remoteAddress":"175.45.176.5"`, `"remotePort":7070`} {
		if !strings.Contains(strings.ReplaceAll(js, " ", ""), s) {
			t.Errorf("report lacks %s:\n%s", s, js)
		}
	}
}
