package collect

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/farmwatch/farmwatch/agent/catalog"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// swapInterfaceNames makes listInterfaceNames return names (and err) for
// the test.
func swapInterfaceNames(t *testing.T, names []string, err error) {
	t.Helper()
	old := listInterfaceNames
	listInterfaceNames = func(context.Context, *Env) ([]string, error) { return names, err }
	t.Cleanup(func() { listInterfaceNames = old })
}

// A Windows laptop: the process names as the OS lists them (image names with
// .exe, any case), install folders under %ProgramFiles%, and the adapters'
// friendly names, one of them the Tailscale adapter.
func TestVPNClientsWindowsForms(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, map[string]string{
		"C:/Program Files/Mullvad VPN/mullvad-daemon.exe": "MZ",
		"C:/Program Files/Tailscale/tailscaled.exe":       "MZ",
	})
	env := rootEnv(root, january)
	env.Getenv = func(k string) string {
		return map[string]string{"ProgramFiles": `C:\Program Files`, "ProgramFiles(x86)": `C:\Program Files (x86)`,
			"ProgramData": `C:\ProgramData`}[k]
	}
	swapInterfaceNames(t, []string{"Ethernet", "Wi-Fi", "Tailscale", "Local Area Connection* 2", "Loopback Pseudo-Interface 1"}, nil)
	procs := []Proc{
		{PID: 4, Name: "System"},
		{PID: 7312, Name: "ASTRILL.EXE", Exe: `C:\Program Files (x86)\Astrill\astrill.exe`},
		{PID: 6120, Name: "explorer.exe", Exe: `C:\Windows\explorer.exe`},
	}
	got, err := findVPNClients(context.Background(), env, catalog.VPNClients(), "windows", procs)
	if err != nil {
		t.Fatal(err)
	}
	assertTools(t, got, []*pb.ToolMatch{
		{ToolId: "astrill-vpn", Name: "Astrill VPN", Process: "ASTRILL.EXE", Path: `C:\Program Files (x86)\Astrill\astrill.exe`,
			Pid: 7312, Seen: []string{SeenRunning}},
		{ToolId: "mullvad", Name: "Mullvad VPN", Path: `C:\Program Files\Mullvad VPN\`, Seen: []string{SeenInstalled}},
		{ToolId: "tailscale", Name: "Tailscale", Path: `C:\Program Files\Tailscale\`,
			Seen: []string{SeenInstalled, SeenInterface}, Interfaces: []string{"Tailscale"}},
	})
}

// A Mac: app bundles under /Applications, process names as `ps -c` gives
// them, and a utun that belongs to the client whose process runs.
func TestVPNClientsDarwinForms(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, map[string]string{
		"Applications/NordVPN.app/Contents/Info.plist":     "<plist/>",
		"Applications/Tunnelblick.app/Contents/Info.plist": "<plist/>",
	})
	swapInterfaceNames(t, []string{"lo0", "gif0", "stf0", "anpi0", "en0", "awdl0", "llw0", "utun0", "utun1", "utun4"}, nil)
	procs := []Proc{
		{PID: 88, Name: "launchd"},
		{PID: 612, Name: "nordvpnd", Exe: "/Library/PrivilegedHelperTools/nordvpnd"},
		{PID: 1733, Name: "NordVPN", Exe: "/Applications/NordVPN.app/Contents/MacOS/NordVPN"},
	}
	got, err := findVPNClients(context.Background(), rootEnv(root, january), catalog.VPNClients(), "darwin", procs)
	if err != nil {
		t.Fatal(err)
	}
	assertTools(t, got, []*pb.ToolMatch{
		{ToolId: "nordvpn", Name: "NordVPN", Process: "nordvpnd", Path: "/Library/PrivilegedHelperTools/nordvpnd", Pid: 612,
			Seen: []string{SeenRunning, SeenInstalled, SeenInterface}, Interfaces: []string{"utun0", "utun1", "utun4"}},
		{ToolId: "tunnelblick", Name: "Tunnelblick", Path: "/Applications/Tunnelblick.app", Seen: []string{SeenInstalled}},
	})
}

// Nothing catalogued: nothing reported, and an interface listing that fails
// still leaves the process and install matches.
func TestVPNClientsNoneAndInterfaceError(t *testing.T) {
	swapInterfaceNames(t, []string{"lo", "eth0", "docker0", "tun0", "wg0"}, nil)
	env := rootEnv(t.TempDir(), january)
	got, err := findVPNClients(context.Background(), env, catalog.VPNClients(), "linux",
		[]Proc{{PID: 1, Name: "systemd", Exe: "/usr/lib/systemd/systemd"}, {PID: 900, Name: "sshd"}})
	if err != nil || got != nil {
		t.Errorf("findVPNClients = %v, %v; want nothing", got, err)
	}

	swapInterfaceNames(t, nil, errors.New("netlink: permission denied"))
	got, err = findVPNClients(context.Background(), env, catalog.VPNClients(), "linux",
		[]Proc{{PID: 4410, Name: "tailscaled", Exe: "/usr/sbin/tailscaled"}})
	if err == nil {
		t.Error("interface error not returned")
	}
	assertTools(t, got, []*pb.ToolMatch{{ToolId: "tailscale", Name: "Tailscale", Process: "tailscaled",
		Path: "/usr/sbin/tailscaled", Pid: 4410, Seen: []string{SeenRunning}}})
}

func TestExpandWindowsRoot(t *testing.T) {
	env := &Env{Getenv: func(k string) string {
		return map[string]string{"ProgramFiles": `C:\Program Files\`, "ProgramData": `D:\ProgramData`}[k]
	}}
	tests := map[string]string{
		`%ProgramFiles%\NordVPN\`:         `C:\Program Files\NordVPN\`,
		`%ProgramFiles(x86)%\Radmin VPN\`: "", // a 32-bit Windows has none
		`%ProgramData%\ZeroTier\One\`:     `D:\ProgramData\ZeroTier\One\`,
		"/Applications/Tailscale.app":     "/Applications/Tailscale.app",
	}
	for in, want := range tests {
		if got := expandWindowsRoot(env, in); got != want {
			t.Errorf("expandWindowsRoot(%q) = %q, want %q", in, got, want)
		}
	}
	if got := hostFile(&Env{Root: "/"}, `C:\Program Files\X\`); got != `C:\Program Files\X\` {
		t.Errorf("hostFile on the real root = %q", got)
	}
	if got := hostFile(&Env{Root: "/r"}, `C:\Program Files\X\`); got != filepath.Join("/r", "C:", "Program Files", "X") {
		t.Errorf("hostFile under a fixture root = %q", got)
	}
}
