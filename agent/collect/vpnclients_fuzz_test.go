package collect

import (
	"bytes"
	"context"
	"slices"
	"testing"

	"github.com/farmwatch/farmwatch/agent/catalog"
)

// FuzzVPNClients feeds findVPNClients process names, executable paths and
// interface names taken from arbitrary bytes, one per line, on each OS, and
// checks that only catalog matches come out, each seen in a way its input
// shows.
func FuzzVPNClients(f *testing.F) {
	addFixtureSeeds(f, "linux/vpn/proc/*/comm")
	f.Add([]byte("astrill\n/usr/local/Astrill/astrill\ntun0\nnordlynx\nutun3\n"))
	f.Add([]byte("NordVPN.exe\nC:\\Program Files\\NordVPN\\NordVPN.exe\nTailscale\nwg0-mullvad\n"))
	f.Add([]byte("Tailscale\n\x00\xff\ntailscale0\n\n\n"))
	cat := catalog.VPNClients()
	env := rootEnv(f.TempDir(), january) // empty: nothing is installed
	order := map[string]int{SeenRunning: 0, SeenInstalled: 1, SeenInterface: 2}
	f.Fuzz(func(t *testing.T, data []byte) {
		lines := bytes.Split(data, []byte("\n"))
		if len(lines) > 64 {
			lines = lines[:64]
		}
		var procs []Proc
		var names []string
		for i, l := range lines {
			procs = append(procs, Proc{PID: int32(i + 1), Name: string(l)})
			if i+1 < len(lines) {
				procs = append(procs, Proc{PID: int32(100 + i), Name: string(l), Exe: string(lines[i+1])})
			}
			names = append(names, string(l))
		}
		old := listInterfaceNames
		listInterfaceNames = func(context.Context, *Env) ([]string, error) { return names, nil }
		defer func() { listInterfaceNames = old }()

		for _, goos := range []string{"linux", "darwin", "windows"} {
			got, err := findVPNClients(context.Background(), env, cat, goos, procs)
			if err != nil {
				t.Fatal(err)
			}
			for k, m := range got {
				tool, ok := cat.Lookup(m.GetToolId())
				if !ok || tool.Name != m.GetName() {
					t.Fatalf("%s: %v is no catalog entry", goos, m)
				}
				if k > 0 && got[k-1].GetToolId() >= m.GetToolId() {
					t.Fatalf("%s: ids out of order or repeated: %v", goos, got)
				}
				seen := m.GetSeen()
				if len(seen) == 0 || !slices.IsSortedFunc(seen, func(a, b string) int { return order[a] - order[b] }) ||
					len(slices.Compact(slices.Clone(seen))) != len(seen) {
					t.Fatalf("%s: seen %v", goos, seen)
				}
				if slices.Contains(seen, SeenInstalled) {
					t.Fatalf("%s: %s installed in an empty root", goos, m.GetToolId())
				}
				if running := slices.Contains(seen, SeenRunning); running != (m.GetPid() != 0) {
					t.Fatalf("%s: seen %v with pid %d", goos, seen, m.GetPid())
				} else if running {
					p, ok := cat.MatchProcess(goos, m.GetProcess(), m.GetPath())
					if !ok || p.ID != m.GetToolId() {
						t.Fatalf("%s: process %q (%q) reported under %s", goos, m.GetProcess(), m.GetPath(), m.GetToolId())
					}
				}
				if slices.Contains(seen, SeenInterface) != (len(m.GetInterfaces()) > 0) {
					t.Fatalf("%s: seen %v, interfaces %v", goos, seen, m.GetInterfaces())
				}
				for _, name := range m.GetInterfaces() {
					tools, _ := cat.MatchInterface(name)
					if !slices.Contains(names, name) || !slices.ContainsFunc(tools, func(x catalog.Tool) bool { return x.ID == m.GetToolId() }) {
						t.Fatalf("%s: interface %q reported under %s", goos, name, m.GetToolId())
					}
				}
			}
		}
	})
}
