package collect

import (
	"errors"
	"os/exec"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

func mustZone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func ts(t time.Time) *timestamppb.Timestamp { return timestamppb.New(t) }

func assertSessions(t *testing.T, got, want []*pb.Session) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d sessions, want %d:\n%v", len(got), len(want), got)
	}
	for i := range want {
		if !proto.Equal(got[i], want[i]) {
			t.Errorf("session %d:\n got %v\nwant %v", i, got[i], want[i])
		}
	}
}

func TestLoginctlSessions(t *testing.T) {
	chicago := mustZone(t, "America/Chicago")
	ids := parseLoginctlSessionIDs(testdataFile(t, "linux", "remotelogin/loginctl-list-sessions.txt"))
	if len(ids) != 4 || ids[0] != "2" || ids[3] != "c1" {
		t.Errorf("session IDs %q", ids)
	}
	var got []*pb.Session
	for _, kv := range parseLoginctlShow(testdataFile(t, "linux", "remotelogin/loginctl-show-session.txt")) {
		if s, ok := logindSession(kv, chicago); ok {
			got = append(got, s)
		}
	}
	at := func(h, m, s int) *timestamppb.Timestamp { return ts(time.Date(2026, 1, 15, h, m, s, 0, chicago)) }
	assertSessions(t, got, []*pb.Session{
		{User: "alice", Type: "wayland", State: "active", Started: at(8, 58, 1)},
		{User: "alice", Type: "ssh", RemoteHost: "175.45.176.5", State: "active", Started: at(11, 42, 37)},
		{User: "bob", Type: "rdp", RemoteHost: "203.0.113.7", State: "online", Started: at(11, 50, 10)},
	})
}

func TestLogindSessionTypes(t *testing.T) {
	tests := []struct {
		name string
		kv   map[string]string
		want string
		host string
	}{
		{"tty console", map[string]string{"Name": "a", "Type": "tty", "Remote": "no", "Service": "login"}, "console", ""},
		{"x11 local", map[string]string{"Name": "a", "Type": "x11", "Remote": "no", "Service": "lightdm"}, "x11", ""},
		{"gnome remote login", map[string]string{"Name": "a", "Type": "wayland", "Remote": "yes", "RemoteHost": "198.51.100.4",
			"Service": "gnome-remote-desktop"}, "rdp", "198.51.100.4"},
		{"other remote service", map[string]string{"Name": "a", "Type": "tty", "Remote": "yes", "RemoteHost": "198.51.100.4",
			"Service": "telnet"}, "remote", "198.51.100.4"},
		{"local session keeps no host", map[string]string{"Name": "a", "Type": "tty", "Remote": "no", "RemoteHost": "x"}, "console", ""},
	}
	for _, tt := range tests {
		s, ok := logindSession(tt.kv, time.UTC)
		if !ok || s.GetType() != tt.want || s.GetRemoteHost() != tt.host {
			t.Errorf("%s: got %v (ok %v), want type %q host %q", tt.name, s, ok, tt.want, tt.host)
		}
	}
	for _, kv := range []map[string]string{{"Name": "gdm", "Class": "greeter"}, {"Name": "alice", "Class": "manager"}, {"Class": "user"}} {
		if s, ok := logindSession(kv, time.UTC); ok {
			t.Errorf("%v reported as a login session: %v", kv, s)
		}
	}
}

func TestParseWhoLinux(t *testing.T) {
	chicago := mustZone(t, "America/Chicago")
	got := parseWho(testdataFile(t, "linux", "remotelogin/who.txt"), january, chicago)
	at := func(h, m int) *timestamppb.Timestamp { return ts(time.Date(2026, 1, 15, h, m, 0, 0, chicago)) }
	assertSessions(t, got, []*pb.Session{
		{User: "alice", Type: "console", State: "active", Started: at(8, 58)},
		{User: "alice", Type: "ssh", RemoteHost: "175.45.176.5", State: "active", Started: at(11, 42)},
		{User: "alice", Type: "x11", State: "active", Started: at(11, 44)},
		{User: "bob", Type: "ssh", RemoteHost: "203.0.113.7", State: "active", Started: at(11, 50)},
	})
}

func TestParseWhoDarwin(t *testing.T) {
	la := mustZone(t, "America/Los_Angeles")
	got := parseWho(testdataFile(t, "darwin", "who.txt"), january, la)
	at := func(y int, mo time.Month, d, h, m int) *timestamppb.Timestamp {
		return ts(time.Date(y, mo, d, h, m, 0, 0, la))
	}
	assertSessions(t, got, []*pb.Session{
		{User: "alice", Type: "console", State: "active", Started: at(2026, 1, 15, 8, 58)},
		{User: "alice", Type: "console", State: "active", Started: at(2026, 1, 15, 9, 12)},
		{User: "alice", Type: "ssh", RemoteHost: "175.45.176.5", State: "active", Started: at(2026, 1, 15, 11, 42)},
		// Without a year, a December date seen in January is last year's.
		{User: "bob", Type: "ssh", RemoteHost: "2001:db8::7", State: "active", Started: at(2025, 12, 31, 23, 10)},
	})
}

func TestLaunchdServiceLoaded(t *testing.T) {
	tests := []struct {
		name           string
		err            error
		loaded, doRead bool
	}{
		{"exit 0: loaded", nil, true, true},
		{"exit 113: not loaded", &exec.ExitError{}, false, true},
		{"wrapped exit status", errors.Join(errors.New("launchctl"), &exec.ExitError{}), false, true},
		{"launchctl missing", exec.ErrNotFound, false, false},
	}
	for _, tt := range tests {
		loaded, ok := launchdServiceLoaded(tt.err)
		if loaded != tt.loaded || ok != tt.doRead {
			t.Errorf("%s: got %v %v, want %v %v", tt.name, loaded, ok, tt.loaded, tt.doRead)
		}
	}
}

func TestApplyListeners(t *testing.T) {
	ra := &pb.RemoteAccess{}
	applyListeners(ra, []uint16{631, 5909, 53})
	if ra.GetVncEnabled() != true || ra.GetSshEnabled() || ra.GetRdpEnabled() {
		t.Errorf("5909: %v", ra)
	}
	ra = &pb.RemoteAccess{}
	applyListeners(ra, []uint16{22, 3389, 5910})
	if !ra.GetSshEnabled() || !ra.GetRdpEnabled() || ra.GetVncEnabled() {
		t.Errorf("22, 3389, 5910: %v", ra)
	}
}

func TestRDPEnabled(t *testing.T) {
	u := func(v uint32) *uint32 { return &v }
	tests := []struct {
		name         string
		deny, policy *uint32
		want         bool
	}{
		{"allowed in Settings", u(0), nil, true},
		{"denied in Settings", u(1), nil, false},
		{"value missing: the default denies", nil, nil, false},
		{"policy denies over Settings", u(0), u(1), false},
		{"policy allows over Settings", u(1), u(0), true},
		{"policy alone", nil, u(0), true},
	}
	for _, tt := range tests {
		if got := rdpEnabled(tt.deny, tt.policy); got != tt.want {
			t.Errorf("%s: got %v", tt.name, got)
		}
	}
}

func TestSessionFromWTS(t *testing.T) {
	var addr [20]byte
	copy(addr[2:], []byte{175, 45, 176, 5})
	// 2026-01-15 17:42:37 UTC as a FILETIME.
	logon := time.Date(2026, 1, 15, 17, 42, 37, 0, time.UTC)
	ft := logon.UnixNano()/100 + 116444736000000000
	tests := []struct {
		name string
		in   wtsSession
		want *pb.Session
	}{
		{"rdp", wtsSession{ID: 3, Station: "RDP-Tcp#0", State: 0, User: "alice", Domain: "CORP", Protocol: 2,
			AddrFamily: 2, Addr: addr, LogonTime: ft},
			&pb.Session{User: `CORP\alice`, Type: "rdp", RemoteHost: "175.45.176.5", State: "active", Started: ts(logon)}},
		{"disconnected rdp keeps its type by station", wtsSession{ID: 4, Station: "RDP-Tcp#1", State: 4, User: "bob"},
			&pb.Session{User: "bob", Type: "rdp", State: "disconnected"}},
		{"console", wtsSession{ID: 1, Station: "Console", State: 0, User: "alice", Domain: "CORP"},
			&pb.Session{User: `CORP\alice`, Type: "console", State: "active"}},
		{"services session", wtsSession{ID: 0, Station: "Services", State: 4}, nil},
		{"RDP listener", wtsSession{ID: 65536, Station: "RDP-Tcp", State: 6}, nil},
	}
	for _, tt := range tests {
		got, ok := sessionFromWTS(tt.in)
		if (tt.want == nil) != !ok || (ok && !proto.Equal(got, tt.want)) {
			t.Errorf("%s:\n got %v (ok %v)\nwant %v", tt.name, got, ok, tt.want)
		}
	}
	if got := wtsClientAddress(23, addr); got != "" {
		t.Errorf("AF_INET6 decoded as %q", got)
	}
}

func TestServiceEnabled(t *testing.T) {
	const demand, disabled, stopped = 3, 4, 1
	for _, tt := range []struct {
		start, state uint32
		want         bool
	}{{svcAutoStart, stopped, true}, {demand, svcRunning, true}, {demand, stopped, false}, {disabled, stopped, false}} {
		if got := serviceEnabled(tt.start, tt.state); got != tt.want {
			t.Errorf("start %d state %d: got %v", tt.start, tt.state, got)
		}
	}
}

func TestParseWhoHostForms(t *testing.T) {
	chicago := mustZone(t, "America/Chicago")
	at := func(h, m int) *timestamppb.Timestamp { return ts(time.Date(2026, 1, 15, h, m, 0, 0, chicago)) }
	tests := []struct {
		file string
		want []*pb.Session
	}{
		// GDM's seat record and tmux panes are local: only bob is remote.
		{"who_ubuntu-24.04_gnome-login-screen.txt", []*pb.Session{
			{User: "alice", Type: "console", State: "active", Started: at(8, 58)},
			{User: "alice", Type: "console", State: "active", Started: at(8, 58)},
			{User: "alice", Type: "console", State: "active", Started: at(9, 30)},
			{User: "alice", Type: "console", State: "active", Started: at(9, 31)},
			{User: "bob", Type: "ssh", RemoteHost: "203.0.113.7", State: "active", Started: at(11, 50)},
		}},
		{"who_ubuntu-24.04_x11-display_iso-dates.txt", []*pb.Session{
			{User: "alice", Type: "console", State: "active", Started: at(8, 58)},
			{User: "alice", Type: "x11", State: "active", Started: at(8, 58)},
			{User: "alice", Type: "x11", State: "active", Started: at(9, 12)},
		}},
		// mosh is remote; its peer is known only while a client is connected.
		{"who_debian-12_mosh.txt", []*pb.Session{
			{User: "alice", Type: "remote", RemoteHost: "198.51.100.23", State: "active", Started: at(11, 42)},
			{User: "alice", Type: "remote", State: "disconnected", Started: at(7, 5)},
			{User: "alice", Type: "remote", RemoteHost: "2001:db8::23", State: "active", Started: at(7, 6)},
		}},
		// coreutils reading logind prints "sshd pts/2" (or "sshd") as the line.
		{"who_ubuntu-26.04_logind-sshd.txt", []*pb.Session{
			{User: "alice", Type: "console", State: "active", Started: at(8, 58)},
			{User: "alice", Type: "console", State: "active", Started: at(8, 58)},
			{User: "bob", Type: "ssh", RemoteHost: "192.0.2.51", State: "active", Started: at(10, 42)},
			{User: "root", Type: "ssh", RemoteHost: "192.0.2.51", State: "active", Started: at(14, 33)},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			assertSessions(t, parseWho(testdataFile(t, "linux", "remotelogin/"+tt.file), january, chicago), tt.want)
		})
	}
}

func TestWhoSessionKind(t *testing.T) {
	tests := []struct{ host, kind, peer, state string }{
		{"", "console", "", "active"},
		{":0", "x11", "", "active"},
		{":0:S.1", "x11", "", "active"},
		{":S.0", "console", "", "active"},
		{"login screen", "console", "", "active"},
		{"tmux(1449615).%7", "console", "", "active"},
		{"203.0.113.7:S.0", "ssh", "203.0.113.7", "active"},
		{"mosh [1672032]", "remote", "", "disconnected"},
		{"100.64.0.20 via mosh [1672032]", "remote", "100.64.0.20", "active"},
		{"fe80::1%en0", "ssh", "fe80::1%en0", "active"},
	}
	for _, tt := range tests {
		kind, peer, state := whoSessionKind(tt.host)
		if kind != tt.kind || peer != tt.peer || state != tt.state {
			t.Errorf("%q: got (%q, %q, %q), want (%q, %q, %q)", tt.host, kind, peer, state, tt.kind, tt.peer, tt.state)
		}
	}
}
