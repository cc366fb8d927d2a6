package collect

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/farmwatch/farmwatch/agent/catalog"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// TestVPNClientsLinuxFixture runs the remote_access collector on the vpn
// fixture root: Astrill runs from its install path with a tun0 up, NordVPN
// is installed but not running, Tailscale has left its tailscale0, and a
// shell and a kernel worker run besides.
func TestVPNClientsLinuxFixture(t *testing.T) {
	r := Collect(context.Background(), fixtureEnv(t, "vpn", january), Options{Only: []string{"remote_access"}})
	if len(r.GetErrors()) != 0 {
		t.Fatalf("errors: %v", r.GetErrors())
	}
	want := []*pb.ToolMatch{
		{ToolId: "astrill-vpn", Name: "Astrill VPN", Process: "astrill", Path: "/usr/local/Astrill/astrill", Pid: 2817,
			Seen: []string{SeenRunning, SeenInstalled, SeenInterface}, Interfaces: []string{"tun0"}},
		{ToolId: "nordvpn", Name: "NordVPN", Path: "/usr/sbin/nordvpnd", Seen: []string{SeenInstalled}},
		{ToolId: "tailscale", Name: "Tailscale", Seen: []string{SeenInterface}, Interfaces: []string{"tailscale0"}},
	}
	assertTools(t, r.GetVpnClients(), want)
	if n := len(r.GetRemoteAccess().GetTools()); n != 0 {
		t.Errorf("%d remote-access tools from a fixture with none", n)
	}

	b, err := protojson.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"bash", "kworker", "wlp2s0", "/usr/bin"} {
		if strings.Contains(string(b), s) {
			t.Errorf("report mentions %q, which matches no catalog entry", s)
		}
	}
}

// Without the Astrill process, its install path still says installed, but
// tun0 is nobody's: many clients (and none) make a tun.
func TestVPNClientsSharedInterfaceNeedsAProcess(t *testing.T) {
	root := t.TempDir()
	copyTree(t, filepath.Join("testdata", "linux", "vpn"), root)
	if err := os.RemoveAll(filepath.Join(root, "proc", "2817")); err != nil {
		t.Fatal(err)
	}
	r := Collect(context.Background(), rootEnv(root, january), Options{Only: []string{"remote_access"}})
	if len(r.GetErrors()) != 0 {
		t.Fatalf("errors: %v", r.GetErrors())
	}
	want := []*pb.ToolMatch{
		{ToolId: "astrill-vpn", Name: "Astrill VPN", Path: "/usr/local/Astrill/astrill", Seen: []string{SeenInstalled}},
		{ToolId: "nordvpn", Name: "NordVPN", Path: "/usr/sbin/nordvpnd", Seen: []string{SeenInstalled}},
		{ToolId: "tailscale", Name: "Tailscale", Seen: []string{SeenInterface}, Interfaces: []string{"tailscale0"}},
	}
	assertTools(t, r.GetVpnClients(), want)
}

// BenchmarkFindVPNClients measures what VPN detection adds to a cycle on
// this machine: matching the already-listed processes against the VPN
// catalog, the install-path checks and the interface listing.
func BenchmarkFindVPNClients(b *testing.B) {
	ctx := context.Background()
	procs, err := procfsProcesses(ctx)
	if err != nil {
		b.Fatal(err)
	}
	env, cat := HostEnv(), catalog.VPNClients()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := findVPNClients(ctx, env, cat, "linux", procs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(procs)), "procs")
}

// BenchmarkProcessWalk is the walk the VPN match shares with remote access,
// for comparison.
func BenchmarkProcessWalk(b *testing.B) {
	ctx := context.Background()
	b.ReportAllocs()
	for range b.N {
		if _, err := procfsProcesses(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
