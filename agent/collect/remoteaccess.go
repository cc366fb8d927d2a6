package collect

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"runtime"
	"sort"
	"strings"
	"time"

	psnet "github.com/shirou/gopsutil/v4/net"
	"github.com/shirou/gopsutil/v4/process"

	"github.com/farmwatch/farmwatch/agent/catalog"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

func init() { register("remote_access", 10*time.Second, collectRemoteAccess) }

// Proc is the little the agent looks at of a process: enough to match the
// catalog. Nothing of a process that matches no entry leaves this file.
type Proc struct {
	PID  int32
	Name string
	Exe  string
}

// listProcesses and connectionsOf are package variables so tests can swap in
// fixtures for OS views gopsutil cannot fake.
var (
	listProcesses = gopsutilProcesses
	connectionsOf = gopsutilConnections
)

func gopsutilProcesses(ctx context.Context) ([]Proc, error) {
	ps, err := process.ProcessesWithContext(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Proc, 0, len(ps))
	for _, p := range ps {
		name, err := p.NameWithContext(ctx)
		if err != nil {
			continue // exited, or not ours to read
		}
		exe, _ := p.ExeWithContext(ctx)
		out = append(out, Proc{PID: p.Pid, Name: name, Exe: exe})
	}
	return out, nil
}

func gopsutilConnections(ctx context.Context, pid int32) ([]psnet.ConnectionStat, error) {
	return psnet.ConnectionsPidWithoutUidsWithContext(ctx, "inet", pid)
}

// collectRemoteAccess matches running processes against the remote-access
// catalog and, for matches only, lists their listening sockets and
// established connections with the RTT the OS measured for each. The same
// process list is matched against the VPN catalog (findVPNClients): the
// walk is most of a cycle's CPU, so it is done once.
func collectRemoteAccess(ctx context.Context, env *Env, r *pb.Report) error {
	cat := catalog.RemoteAccess()
	procs, err := listProcesses(ctx)
	if err != nil {
		return err
	}
	ra := &pb.RemoteAccess{CatalogVersion: cat.Version}
	ra.Tools = matchTools(ctx, cat, runtime.GOOS, procs)
	r.RemoteAccess = ra
	var errs []error
	vpn, err := findVPNClients(ctx, env, catalog.VPNClients(), runtime.GOOS, procs)
	r.VpnClients = vpn
	if err != nil {
		errs = append(errs, fmt.Errorf("vpn clients: %w", err))
	}
	if err := fillRTT(ctx, ra.Tools); err != nil {
		errs = append(errs, fmt.Errorf("rtt: %w", err))
	}
	return errors.Join(errs...)
}

func matchTools(ctx context.Context, cat *catalog.Catalog, goos string, procs []Proc) []*pb.ToolMatch {
	var out []*pb.ToolMatch
	for _, p := range procs {
		tool, ok := cat.MatchProcess(goos, p.Name, p.Exe)
		if !ok {
			continue
		}
		m := &pb.ToolMatch{ToolId: tool.ID, Name: tool.Name, Process: p.Name, Path: p.Exe, Pid: p.PID}
		conns, err := connectionsOf(ctx, p.PID)
		if err == nil {
			addSockets(m, conns)
		}
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].ToolId != out[j].ToolId {
			return out[i].ToolId < out[j].ToolId
		}
		return out[i].Pid < out[j].Pid
	})
	return out
}

func addSockets(m *pb.ToolMatch, conns []psnet.ConnectionStat) {
	for _, c := range conns {
		proto := protoName(c.Type, c.Family)
		noPeer := unspecified(c.Raddr.IP) || c.Raddr.Port == 0
		switch {
		case c.Status == "LISTEN" || (c.Type == 2 && noPeer && c.Laddr.Port != 0):
			m.Listening = append(m.Listening, &pb.Socket{Protocol: proto, Address: c.Laddr.IP, Port: c.Laddr.Port})
		case !noPeer:
			m.Connections = append(m.Connections, &pb.Connection{
				Protocol: proto, LocalAddress: c.Laddr.IP, LocalPort: c.Laddr.Port,
				RemoteAddress: c.Raddr.IP, RemotePort: c.Raddr.Port, State: strings.ToLower(c.Status)})
		}
	}
}

// unspecified reports a socket without a peer: gopsutil gives "" on Windows
// and macOS but the decoded 0.0.0.0 or :: of /proc/net/udp on Linux.
func unspecified(ip string) bool {
	if ip == "" || ip == "*" {
		return true
	}
	a, err := netip.ParseAddr(ip)
	return err == nil && a.IsUnspecified()
}

func protoName(typ, family uint32) string {
	p := "tcp"
	if typ == 2 { // SOCK_DGRAM
		p = "udp"
	}
	if family == 10 || family == 23 || family == 30 { // AF_INET6 on Linux, Windows, macOS
		p += "6"
	}
	return p
}
