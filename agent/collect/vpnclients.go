package collect

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/farmwatch/farmwatch/agent/catalog"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// How a VPN client was seen (ToolMatch.seen), in the order they are listed.
const (
	SeenRunning   = "running"
	SeenInstalled = "installed"
	SeenInterface = "interface"
)

// listInterfaceNames is a package variable so tests can give the names of
// interfaces this machine does not have.
var listInterfaceNames = interfaceNames

// findVPNClients matches the VPN catalog three ways: a running process (the
// process walk the remote-access catalog uses), an install path that exists,
// and a network interface the catalog names for the client. It returns one
// entry per client, by tool id. Only catalog matches are returned: no other
// process, path or interface name leaves this function.
func findVPNClients(ctx context.Context, env *Env, cat *catalog.Catalog, goos string, procs []Proc) ([]*pb.ToolMatch, error) {
	byID := map[string]*pb.ToolMatch{}
	get := func(t catalog.Tool) *pb.ToolMatch {
		m := byID[t.ID]
		if m == nil {
			m = &pb.ToolMatch{ToolId: t.ID, Name: t.Name}
			byID[t.ID] = m
		}
		return m
	}

	// The lowest pid stands for the client: usually its daemon, started first.
	sorted := append([]Proc(nil), procs...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].PID < sorted[j].PID })
	for _, p := range sorted {
		t, ok := cat.MatchProcess(goos, p.Name, p.Exe)
		if !ok || byID[t.ID] != nil {
			continue
		}
		m := get(t)
		m.Process, m.Path, m.Pid = p.Name, p.Exe, p.PID
		m.Seen = append(m.Seen, SeenRunning)
	}

	for _, t := range cat.Tools {
		if p := installedPath(env, t.Install[goos]); p != "" {
			m := get(t)
			if m.Path == "" {
				m.Path = p
			}
			m.Seen = append(m.Seen, SeenInstalled)
		}
	}

	names, err := listInterfaceNames(ctx, env)
	for _, name := range names {
		tools, specific := cat.MatchInterface(name)
		for _, t := range tools {
			// A shared name such as utun or tun belongs to a client only
			// while that client runs: alone it names none of them.
			if running := byID[t.ID] != nil && byID[t.ID].Pid != 0; !specific && !running {
				continue
			}
			m := get(t)
			if len(m.Interfaces) == 0 {
				m.Seen = append(m.Seen, SeenInterface)
			}
			m.Interfaces = append(m.Interfaces, name)
		}
	}

	out := make([]*pb.ToolMatch, 0, len(byID))
	for _, m := range byID {
		sort.Strings(m.Interfaces)
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ToolId < out[j].ToolId })
	if len(out) == 0 {
		out = nil
	}
	return out, err
}

// installedPath returns the first of a client's install paths that exists
// on the host, as the host names it, or "".
func installedPath(env *Env, paths []string) string {
	for _, p := range paths {
		host := expandWindowsRoot(env, p)
		if host == "" {
			continue
		}
		if _, err := os.Stat(hostFile(env, host)); err == nil {
			return host
		}
	}
	return ""
}

// windowsRootVars are the variables a catalog install path may start with
// (see catalog.Tool.Install).
var windowsRootVars = []string{"ProgramFiles(x86)", "ProgramFiles", "ProgramData"}

// expandWindowsRoot replaces a leading %VAR% of the catalog's Windows install
// paths with the agent's environment; a path whose variable is unset (a
// 32-bit Windows has no ProgramFiles(x86)) gives "".
func expandWindowsRoot(env *Env, p string) string {
	for _, v := range windowsRootVars {
		if rest, ok := strings.CutPrefix(p, "%"+v+"%"); ok {
			val := ""
			if env.Getenv != nil {
				val = env.Getenv(v)
			}
			if val == "" {
				return ""
			}
			return strings.TrimSuffix(val, `\`) + rest
		}
	}
	return p
}

// hostFile places a host path under the Env's root; a real machine's root
// leaves it as it is, which a Windows path with its drive letter needs.
func hostFile(env *Env, p string) string {
	if env.Root == "" || env.Root == "/" {
		return p
	}
	return filepath.Join(env.Root, filepath.FromSlash(strings.ReplaceAll(p, `\`, "/")))
}

// netInterfaceNames lists the interfaces the OS reports, by the names the
// interfaces collector reports them under.
func netInterfaceNames(context.Context, *Env) ([]string, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(ifs))
	for _, i := range ifs {
		out = append(out, i.Name)
	}
	return out, nil
}
