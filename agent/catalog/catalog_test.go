package catalog

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

func TestEmbeddedCatalogsParse(t *testing.T) {
	tests := []struct {
		name      string
		data      []byte
		minTools  int
		kinds     []string
		wantIface bool
	}{
		{"remote_access.json", remoteAccessJSON, 45, []string{"remote-desktop", "rmm", "vnc", "rdp", "screen-share", "kvm-software", "tunnel"}, false},
		{"vpn_clients.json", vpnClientsJSON, 15, []string{"vpn", "mesh"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse(tt.data)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if len(c.Tools) < tt.minTools {
				t.Errorf("%d tools, want at least %d", len(c.Tools), tt.minTools)
			}
			if c.Sources == "" {
				t.Error("no top-level sources note")
			}
			for _, tool := range c.Tools {
				if !slices.Contains(tt.kinds, tool.Kind) {
					t.Errorf("tool %q: kind %q not allowed in %s (want one of %v)", tool.ID, tool.Kind, tt.name, tt.kinds)
				}
				if tt.wantIface && len(tool.Interfaces) == 0 {
					t.Errorf("tool %q: no interface hints", tool.ID)
				}
			}
		})
	}
}

func TestAccessorsReturnEmbedded(t *testing.T) {
	if _, err := remoteAccess(); err != nil {
		t.Fatalf("remote access catalog: %v", err)
	}
	if _, err := vpnClients(); err != nil {
		t.Fatalf("VPN catalog: %v", err)
	}
	if got := RemoteAccess(); got.Version == "" || len(got.Tools) == 0 {
		t.Errorf("RemoteAccess() = version %q, %d tools", got.Version, len(got.Tools))
	}
	if got := VPNClients(); got.Version == "" || len(got.Tools) == 0 {
		t.Errorf("VPNClients() = version %q, %d tools", got.Version, len(got.Tools))
	}
	if RemoteAccess() != RemoteAccess() {
		t.Error("RemoteAccess parsed twice")
	}
}

// The embedded files must carry the same version: they ship and change together.
func TestVersionsAgree(t *testing.T) {
	if r, v := RemoteAccess(), VPNClients(); r.Version != v.Version {
		t.Errorf("remote_access.json version %q, vpn_clients.json version %q", r.Version, v.Version)
	}
}

func TestRequiredToolsPresent(t *testing.T) {
	remote := []string{
		"anydesk", "teamviewer", "teamviewer-host", "rustdesk", "chrome-remote-desktop", "splashtop-streamer",
		"screenconnect", "realvnc-server", "tightvnc", "ultravnc", "tigervnc", "x11vnc", "vino", "krfb",
		"wayvnc", "xrdp", "parsec", "zoho-assist", "atera", "nomachine", "logmein", "goto-resolve",
		"beyondtrust-remote-support", "kaseya-vsa", "ninjaone", "nable-take-control", "supremo", "aeroadmin",
		"ammyy-admin", "dwservice", "meshcentral", "remote-utilities", "remotepc", "dameware", "isl-online",
		"jump-desktop-connect", "screens-connect", "apple-remote-desktop", "macos-screen-sharing", "sunshine",
		"hoptodesk", "getscreen", "iperius-remote", "fleetdeck", "tactical-rmm", "level", "action1", "syncro",
		"pulseway", "showmypc", "radmin-server", "netsupport-manager", "netop", "quick-assist", "ngrok",
		"cloudflared",
	}
	for _, id := range remote {
		if _, ok := RemoteAccess().Lookup(id); !ok {
			t.Errorf("remote access catalog lacks %q", id)
		}
	}
	vpn := []string{
		"astrill-vpn", "nordvpn", "expressvpn", "surfshark", "protonvpn", "private-internet-access", "mullvad",
		"cyberghost", "windscribe", "tunnelbear", "hotspot-shield", "ipvanish", "openvpn", "openvpn-connect",
		"wireguard", "tailscale", "zerotier", "psiphon",
	}
	for _, id := range vpn {
		if _, ok := VPNClients().Lookup(id); !ok {
			t.Errorf("VPN catalog lacks %q", id)
		}
	}
	if _, ok := RemoteAccess().Lookup("no-such-tool"); ok {
		t.Error("Lookup found an unknown id")
	}
}

// A process name in two catalogs would be reported twice under two kinds.
func TestNoProcessInBothCatalogs(t *testing.T) {
	seen := map[string]string{}
	for _, tool := range RemoteAccess().Tools {
		for goos, names := range tool.Processes {
			for _, n := range names {
				seen[goos+"/"+fold(goos, n)] = tool.ID
			}
		}
	}
	for _, tool := range VPNClients().Tools {
		for goos, names := range tool.Processes {
			for _, n := range names {
				if other, ok := seen[goos+"/"+fold(goos, n)]; ok {
					t.Errorf("%s process %q in VPN tool %q and remote tool %q", goos, n, tool.ID, other)
				}
			}
		}
	}
}

func TestParseRejects(t *testing.T) {
	const ok = `{"id":"a","name":"A","vendor":"V","kind":"vnc","processes":{"linux":["a"]},"source":"s"}`
	wrap := func(tools ...string) string {
		return `{"version":"2026.11.1","updated":"2026-11-29","sources":"s","tools":[` + strings.Join(tools, ",") + `]}`
	}
	tests := []struct {
		name, in, wantErr string
	}{
		{"bad json", `{`, "decode"},
		{"unknown field", `{"version":"2026.11.1","updated":"2026-11-29","tool":[]}`, "unknown field"},
		{"bad version", strings.Replace(wrap(ok), "2026.11.1", "v1", 1), "version"},
		{"bad date", strings.Replace(wrap(ok), "2026-11-29", "Nov 29", 1), "updated"},
		{"duplicate id", wrap(ok, strings.Replace(ok, `["a"]`, `["b"]`, 1)), "id also used"},
		{"bad kind", wrap(strings.Replace(ok, "vnc", "chat", 1)), "kind"},
		{"no source", wrap(strings.Replace(ok, `"source":"s"`, `"source":""`, 1)), "no source"},
		{"no processes", wrap(strings.Replace(ok, `{"linux":["a"]}`, `{}`, 1)), "no process"},
		{"unknown os", wrap(strings.Replace(ok, "linux", "plan9", 1)), "unknown OS"},
		{"path as name", wrap(strings.Replace(ok, `["a"]`, `["/usr/bin/a"]`, 1)), "is empty or a path"},
		{"short path", wrap(strings.Replace(ok, `"source"`, `"paths":["/a/"],"source"`, 1)), "shorter"},
		{"bad port", wrap(strings.Replace(ok, `"source"`, `"ports":[{"proto":"sctp","port":1,"direction":"listen"}],"source"`, 1)), "port"},
		{"name in two tools", wrap(ok, strings.Replace(ok, `"id":"a"`, `"id":"b"`, 1)), `also in "a"`},
		{
			"truncation collides",
			wrap(
				strings.Replace(ok, `["a"]`, `["aaaaaaaaaaaaaaaa1"]`, 1),
				strings.Replace(strings.Replace(ok, `"id":"a"`, `"id":"b"`, 1), `["a"]`, `["aaaaaaaaaaaaaaaa2"]`, 1),
			),
			"truncates like",
		},
		{
			"truncation shadows a name",
			wrap(
				strings.Replace(ok, `["a"]`, `["aaaaaaaaaaaaaaaa1"]`, 1),
				strings.Replace(strings.Replace(ok, `"id":"a"`, `"id":"b"`, 1), `["a"]`, `["aaaaaaaaaaaaaaa"]`, 1),
			),
			"is a truncation",
		},
		{"relative install path", wrap(strings.Replace(ok, `"source"`, `"install":{"linux":["opt/a/"]},"source"`, 1)), "install path"},
		{"install path climbs", wrap(strings.Replace(ok, `"source"`, `"install":{"linux":["/opt/../etc/a"]},"source"`, 1)), "install path"},
		{"windows install path off the roots", wrap(strings.Replace(ok, `"source"`, `"install":{"windows":["%APPDATA%\\A\\"]},"source"`, 1)), "install path"},
		{"windows install path of a drive", wrap(strings.Replace(ok, `"source"`, `"install":{"windows":["C:\\A\\"]},"source"`, 1)), "install path"},
		{"install for unknown os", wrap(strings.Replace(ok, `"source"`, `"install":{"plan9":["/a/"]},"source"`, 1)), "install: unknown OS"},
		{"windows names fold case", wrap(
			strings.Replace(ok, `{"linux":["a"]}`, `{"windows":["A.exe"]}`, 1),
			strings.Replace(strings.Replace(ok, `"id":"a"`, `"id":"b"`, 1), `{"linux":["a"]}`, `{"windows":["a.EXE"]}`, 1),
		), "also in"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.in))
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Parse error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
	if _, err := Parse([]byte(wrap(ok))); err != nil {
		t.Errorf("Parse(valid) = %v", err)
	}
}

func TestMatchProcess(t *testing.T) {
	tests := []struct {
		goos, name, exe string
		want            string // tool id, "" for no match
	}{
		// Names as each OS reports them.
		{"windows", "anydesk.exe", "", "anydesk"},
		{"windows", "AnyDesk.exe", "", "anydesk"},
		{"windows", "SRService.exe", "", "splashtop-streamer"},
		{"windows", "screenconnect.clientservice.exe", "", "screenconnect"},
		{"windows", "remoting_host.exe", "", "chrome-remote-desktop"},
		{"windows", "QuickAssist.exe", "", "quick-assist"},
		{"windows", "tvnserver.exe", "", "tightvnc"},
		{"windows", "client32.exe", "", "netsupport-manager"},
		{"darwin", "AnyDesk", "", "anydesk"},
		{"darwin", "anydesk", "", "anydesk"},
		{"darwin", "ARDAgent", "", "apple-remote-desktop"},
		{"darwin", "screensharingd", "", "macos-screen-sharing"},
		{"darwin", "ChromeRemoteDesktopHost", "", "chrome-remote-desktop"},
		{"linux", "x11vnc", "", "x11vnc"},
		{"linux", "anydesk", "", "anydesk"},
		{"linux", "xrdp-sesman", "", "xrdp"},
		{"linux", "cloudflared", "", "cloudflared"},
		// Linux matches exactly.
		{"linux", "AnyDesk", "", ""},
		{"linux", "X11VNC", "", ""},
		// Linux comm keeps 15 bytes, macOS p_comm 16.
		{"linux", "chrome-remote-d", "", "chrome-remote-desktop"},
		{"linux", "gnome-remote-de", "", "gnome-remote-desktop"},
		{"linux", "vncserver-x11-c", "", "realvnc-server"},
		{"darwin", "ChromeRemoteDesk", "", "chrome-remote-desktop"},
		{"darwin", "Jump Desktop Con", "", "jump-desktop-connect"},
		// A 14-byte prefix is not a truncation, only 15 is.
		{"linux", "chrome-remote-", "", ""},
		// Executable base name when the name is unhelpful.
		{"linux", "", "/usr/bin/x11vnc", "x11vnc"},
		{"windows", "", `C:\Program Files (x86)\AnyDesk\AnyDesk.exe`, "anydesk"},
		// Install path substrings.
		{"windows", "helper.exe", `C:\Program Files (x86)\Google\Chrome Remote Desktop\130.0\remoting_crashpad.exe`, "chrome-remote-desktop"},
		{"windows", "svc.exe", `C:\Program Files (x86)\ScreenConnect Client (a1b2c3d4e5f6)\ScreenConnect.Updater.exe`, "screenconnect"},
		{"windows", "x.exe", `c:\program files\teamviewer\tv_helper.exe`, "teamviewer"},
		{"darwin", "helper", "/Applications/AnyDesk.app/Contents/MacOS/helper", "anydesk"},
		{"darwin", "helper", "/applications/anydesk.app/Contents/MacOS/helper", "anydesk"},
		{"linux", "user-session", "/opt/google/chrome-remote-desktop/user-session", "chrome-remote-desktop"},
		{"linux", "nxexec", "/usr/NX/bin/nxexec", "nomachine"},
		{"linux", "nxexec", "/usr/nx/bin/nxexec", ""},
		{"linux", "cwc", "/opt/connectwisecontrol-1a2b3c/bin/cwc", "screenconnect"},
		{"freebsd", "x", "/opt/teamviewer/tv_bin/x", "teamviewer"},
		// Benign processes must never match: a false positive is reported.
		{"linux", "bash", "/usr/bin/bash", ""},
		{"linux", "systemd", "/usr/lib/systemd/systemd", ""},
		{"linux", "chrome", "/opt/google/chrome/chrome", ""},
		{"linux", "firefox", "/usr/lib/firefox/firefox", ""},
		{"linux", "code", "/usr/share/code/code", ""},
		{"linux", "zoom", "/opt/zoom/zoom", ""},
		{"linux", "slack", "/usr/lib/slack/slack", ""},
		{"linux", "teams-for-linux", "/opt/teams-for-linux/teams-for-linux", ""},
		{"linux", "sshd", "/usr/sbin/sshd", ""},
		{"linux", "Xorg", "/usr/lib/xorg/Xorg", ""},
		{"linux", "gnome-shell", "/usr/bin/gnome-shell", ""},
		{"linux", "vncviewer", "/usr/bin/vncviewer", ""},
		{"linux", "python3", "/usr/bin/python3.12", ""},
		{"linux", "leveldb-tool", "/usr/local/bin/leveldb-tool", ""},
		{"windows", "explorer.exe", `C:\Windows\explorer.exe`, ""},
		{"windows", "svchost.exe", `C:\Windows\System32\svchost.exe`, ""},
		{"windows", "chrome.exe", `C:\Program Files\Google\Chrome\Application\chrome.exe`, ""},
		{"windows", "firefox.exe", `C:\Program Files\Mozilla Firefox\firefox.exe`, ""},
		{"windows", "Code.exe", `C:\Users\a\AppData\Local\Programs\Microsoft VS Code\Code.exe`, ""},
		{"windows", "Zoom.exe", `C:\Users\a\AppData\Roaming\Zoom\bin\Zoom.exe`, ""},
		{"windows", "slack.exe", `C:\Users\a\AppData\Local\slack\app-4.41.105\slack.exe`, ""},
		{"windows", "ms-teams.exe", `C:\Program Files\WindowsApps\MSTeams_25000.0.0.0_x64__8wekyb3d8bbwe\ms-teams.exe`, ""},
		{"windows", "Teams.exe", "", ""},
		{"windows", "mstsc.exe", `C:\Windows\System32\mstsc.exe`, ""},
		{"windows", "iperius.exe", `C:\Program Files (x86)\Iperius Backup\Iperius.exe`, ""},
		{"darwin", "Finder", "/System/Library/CoreServices/Finder.app/Contents/MacOS/Finder", ""},
		{"darwin", "Google Chrome", "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome", ""},
		{"darwin", "firefox", "/Applications/Firefox.app/Contents/MacOS/firefox", ""},
		{"darwin", "Code", "/Applications/Visual Studio Code.app/Contents/MacOS/Code", ""},
		{"darwin", "zoom.us", "/Applications/zoom.us.app/Contents/MacOS/zoom.us", ""},
		{"darwin", "Slack", "/Applications/Slack.app/Contents/MacOS/Slack", ""},
		{"darwin", "Teams", "", ""},
		{"darwin", "MSTeams", "/Applications/Microsoft Teams.app/Contents/MacOS/MSTeams", ""},
		{"darwin", "Screen Sharing", "/System/Library/CoreServices/Applications/Screen Sharing.app/Contents/MacOS/Screen Sharing", ""},
		{"darwin", "launchd", "/sbin/launchd", ""},
		{"windows", "", "", ""},
	}
	c := RemoteAccess()
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/%s/%s", tt.goos, tt.name, tt.exe), func(t *testing.T) {
			got, ok := c.MatchProcess(tt.goos, tt.name, tt.exe)
			if ok != (tt.want != "") || got.ID != tt.want {
				t.Errorf("MatchProcess(%q, %q, %q) = %q, %v; want %q", tt.goos, tt.name, tt.exe, got.ID, ok, tt.want)
			}
		})
	}
}

func TestMatchVPN(t *testing.T) {
	tests := []struct {
		goos, name, exe, want string
	}{
		{"windows", "astrill.exe", "", "astrill-vpn"},
		{"darwin", "Astrill", "", "astrill-vpn"},
		{"linux", "tailscaled", "", "tailscale"},
		{"linux", "nordvpnd", "", "nordvpn"},
		{"linux", "psiphon-tunnel-", "", "psiphon"},
		{"windows", "x.exe", `C:\Program Files\Mullvad VPN\resources\x.exe`, "mullvad"},
		{"linux", "openvpn", "/usr/sbin/openvpn", "openvpn"},
		{"linux", "NetworkManager", "/usr/sbin/NetworkManager", ""},
		{"windows", "anydesk.exe", "", ""},
	}
	c := VPNClients()
	for _, tt := range tests {
		got, ok := c.MatchProcess(tt.goos, tt.name, tt.exe)
		if ok != (tt.want != "") || got.ID != tt.want {
			t.Errorf("MatchProcess(%q, %q, %q) = %q, %v; want %q", tt.goos, tt.name, tt.exe, got.ID, ok, tt.want)
		}
	}
	astrill, _ := c.Lookup("astrill-vpn")
	if !slices.Contains(astrill.Interfaces, "astrill") {
		t.Errorf("astrill-vpn interfaces = %v, want to include astrill", astrill.Interfaces)
	}
}

func TestMatchInterface(t *testing.T) {
	tests := []struct {
		name     string
		want     []string
		specific bool
	}{
		{"nordlynx", []string{"nordvpn"}, true},
		{"astrill0", []string{"astrill-vpn"}, true},
		{"tailscale0", []string{"tailscale"}, true},
		{"Tailscale", []string{"tailscale"}, true}, // the Windows adapter
		{"wg0-mullvad", []string{"mullvad"}, true}, // longer than the shared wg
		{"wgpia0", []string{"private-internet-access"}, true},
		{"ztc3q2ab1f", []string{"zerotier"}, true},
		{"CloudflareWARP", []string{"cloudflare-warp"}, true},
		{"wg0", []string{"astrill-vpn", "wireguard"}, false},
		{"utun3", nil, false}, // checked by count below: most clients share it
		{"eth0", nil, false},
		{"wlan0", nil, false},
		{"lo", nil, false},
		{"", nil, false},
	}
	c := VPNClients()
	for _, tt := range tests {
		tools, specific := c.MatchInterface(tt.name)
		var ids []string
		for _, tool := range tools {
			ids = append(ids, tool.ID)
		}
		if tt.name == "utun3" {
			if specific || len(ids) < 10 || !slices.Contains(ids, "astrill-vpn") {
				t.Errorf("MatchInterface(utun3) = %v, %v; want most clients, not specific", ids, specific)
			}
			continue
		}
		if !slices.Equal(ids, tt.want) || specific != tt.specific {
			t.Errorf("MatchInterface(%q) = %v, %v; want %v, %v", tt.name, ids, specific, tt.want, tt.specific)
		}
	}
}

// Install paths name one product each: a path that general-purpose packages
// install (openvpn, wireguard-tools) would report VPN clients nobody runs.
func TestInstallPaths(t *testing.T) {
	c := VPNClients()
	for _, id := range []string{"openvpn", "psiphon"} {
		tool, _ := c.Lookup(id)
		if len(tool.Install) != 0 {
			t.Errorf("%s has install paths %v: its binaries come with general-purpose packages or none", id, tool.Install)
		}
	}
	if wg, _ := c.Lookup("wireguard"); len(wg.Install["linux"]) != 0 {
		t.Errorf("wireguard has Linux install paths %v: wireguard-tools is a distribution package", wg.Install["linux"])
	}
	astrill, _ := c.Lookup("astrill-vpn")
	if !slices.Contains(astrill.Install["linux"], "/usr/local/Astrill/astrill") {
		t.Errorf("astrill-vpn Linux install paths %v", astrill.Install["linux"])
	}
	for _, tool := range c.Tools {
		if len(tool.Install) > 0 && !strings.Contains(tool.Source, "Install paths") {
			t.Errorf("%s: install paths without a source line", tool.ID)
		}
	}
}

func TestToolsListeningOn(t *testing.T) {
	ids := func(tools []Tool) []string {
		var out []string
		for _, t := range tools {
			out = append(out, t.ID)
		}
		return out
	}
	c := RemoteAccess()
	tests := []struct {
		port    uint16
		want    []string // must be included
		exclude []string
	}{
		{7070, []string{"anydesk"}, nil},
		{3389, []string{"xrdp", "gnome-remote-desktop"}, nil},
		{5900, []string{"realvnc-server", "x11vnc", "apple-remote-desktop", "macos-screen-sharing"}, nil},
		{4899, []string{"radmin-server"}, nil},
		// Outbound-only ports are not listening hints.
		{8041, nil, []string{"screenconnect"}},
		{443, nil, []string{"anydesk", "chrome-remote-desktop"}},
	}
	for _, tt := range tests {
		got := ids(c.ToolsListeningOn(tt.port))
		for _, id := range tt.want {
			if !slices.Contains(got, id) {
				t.Errorf("ToolsListeningOn(%d) = %v, want %q", tt.port, got, id)
			}
		}
		for _, id := range tt.exclude {
			if slices.Contains(got, id) {
				t.Errorf("ToolsListeningOn(%d) = %v, must not include %q", tt.port, got, id)
			}
		}
	}
	if got := c.ToolsListeningOn(1); got != nil {
		t.Errorf("ToolsListeningOn(1) = %v, want nil", ids(got))
	}
}

func TestLookup(t *testing.T) {
	tool, ok := RemoteAccess().Lookup("anydesk")
	if !ok || tool.Name != "AnyDesk" || !slices.Contains(tool.Processes["windows"], "AnyDesk.exe") {
		t.Errorf("Lookup(anydesk) = %+v, %v", tool, ok)
	}
}

// benchProcesses is a plausible laptop process list: mostly benign, a few hits.
func benchProcesses() [][3]string {
	var ps [][3]string
	for i := range 490 {
		switch i % 5 {
		case 0:
			ps = append(ps, [3]string{"windows", fmt.Sprintf("svc%d.exe", i), fmt.Sprintf(`C:\Program Files\Vendor%d\bin\svc%d.exe`, i, i)})
		case 1:
			ps = append(ps, [3]string{"darwin", fmt.Sprintf("Helper %d", i), fmt.Sprintf("/Applications/App%d.app/Contents/MacOS/Helper %d", i, i)})
		default:
			ps = append(ps, [3]string{"linux", fmt.Sprintf("kworker/%d:1", i), ""})
		}
	}
	ps = append(ps,
		[3]string{"windows", "AnyDesk.exe", `C:\Program Files (x86)\AnyDesk\AnyDesk.exe`},
		[3]string{"linux", "chrome-remote-d", "/usr/bin/python3.12"},
		[3]string{"darwin", "helper", "/Applications/AnyDesk.app/Contents/MacOS/helper"},
		[3]string{"windows", "x.exe", `C:\Program Files (x86)\ScreenConnect Client (abc)\x.exe`},
		[3]string{"linux", "bash", "/usr/bin/bash"},
		[3]string{"linux", "x11vnc", "/usr/bin/x11vnc"},
		[3]string{"windows", "explorer.exe", `C:\Windows\explorer.exe`},
		[3]string{"darwin", "Finder", "/System/Library/CoreServices/Finder.app/Contents/MacOS/Finder"},
		[3]string{"linux", "systemd", "/usr/lib/systemd/systemd"},
		[3]string{"windows", "chrome.exe", `C:\Program Files\Google\Chrome\Application\chrome.exe`},
	)
	return ps
}

// BenchmarkMatchProcess matches a 500-process snapshot per iteration.
func BenchmarkMatchProcess(b *testing.B) {
	c := RemoteAccess()
	ps := benchProcesses()
	b.ReportAllocs()
	for b.Loop() {
		for _, p := range ps {
			c.MatchProcess(p[0], p[1], p[2])
		}
	}
}
