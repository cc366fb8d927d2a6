package collect

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"net/netip"
	"os/exec"
	"regexp"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

func init() { register("remote_login", 10*time.Second, collectRemoteLogin) }

// collectRemoteLogin fills whether RDP, VNC, SSH and screen sharing are
// enabled and lists login sessions, remote ones with their peer. The OS
// readers (remotelogin_<os>.go) are thin; interpretation is here.
func collectRemoteLogin(ctx context.Context, env *Env, r *pb.Report) error {
	ra := &pb.RemoteAccess{}
	err := readRemoteLogin(ctx, env, ra)
	r.RemoteAccess = ra
	return err
}

// Well-known listening ports of remote-login services.
const (
	portSSH = 22
	portRDP = 3389
	portVNC = 5900 // display :0; VNC servers listen on 5900+N
)

// applyListeners marks a service enabled when something listens on its
// port; the listener's process is not named, so nothing of an uncatalogued
// process is reported.
func applyListeners(ra *pb.RemoteAccess, ports []uint16) {
	for _, p := range ports {
		switch {
		case p == portSSH:
			ra.SshEnabled = true
		case p == portRDP:
			ra.RdpEnabled = true
		case p >= portVNC && p <= portVNC+9:
			ra.VncEnabled = true
		}
	}
}

// Session types of pb.Session.type.
const (
	sessionSSH           = "ssh"
	sessionRDP           = "rdp"
	sessionVNC           = "vnc"
	sessionX11           = "x11"
	sessionWayland       = "wayland"
	sessionConsole       = "console"
	sessionScreenSharing = "screen-sharing"
	sessionRemote        = "remote" // remote, by a service not named above
)

// sessionProperties are asked of `loginctl show-session`; the output is
// parsed by parseLoginctlShow (activity.go), one map per session.
var sessionProperties = []string{"Name", "Remote", "RemoteHost", "Service", "Type", "Class", "State", "Timestamp"}

// logindSession turns one session's loginctl properties into a report
// session; ok is false for sessions that are not a user's login (greeters,
// the user manager). Timestamps are printed in the machine's zone, loc.
func logindSession(kv map[string]string, loc *time.Location) (*pb.Session, bool) {
	if class := kv["Class"]; class != "" && !strings.HasPrefix(class, "user") {
		return nil, false
	}
	if kv["Name"] == "" {
		return nil, false
	}
	s := &pb.Session{User: kv["Name"], State: kv["State"]}
	remote := kv["Remote"] == "yes"
	service := kv["Service"]
	switch {
	case service == "sshd" || strings.HasPrefix(service, "sshd-"):
		s.Type = sessionSSH
	case strings.Contains(service, "xrdp") || strings.HasPrefix(service, "gnome-remote-desktop"):
		s.Type = sessionRDP
	case remote:
		s.Type = sessionRemote
	case kv["Type"] == "x11" || kv["Type"] == "wayland":
		s.Type = kv["Type"]
	default:
		s.Type = sessionConsole
	}
	if remote || s.Type == sessionSSH || s.Type == sessionRDP {
		s.RemoteHost = kv["RemoteHost"]
	}
	// "Sun 2026-11-29 08:58:01 CST"; ParseInLocation resolves the zone
	// abbreviation against the machine's zone.
	if t, err := time.ParseInLocation("Mon 2006-01-02 15:04:05 MST", kv["Timestamp"], loc); err == nil {
		s.Started = timestamppb.New(t)
	}
	return s, true
}

// whoLine matches a line of `who` (utmp): user, line, login time and an
// optional parenthesised host. The time is "Mon DD HH:MM" under LC_ALL=C
// (the agent's locale: GNU coreutils prints ISO dates only in a locale
// other than C/POSIX, and macOS's BSD who prints "Mon DD" in C) or ISO
// ("2026-01-15 11:42", kept for output read under another locale). The line
// is one word, or "<service> <tty>" ("sshd pts/0") when coreutils reads
// sessions from systemd-logind instead of utmp.
var whoLine = regexp.MustCompile(`^(\S+)\s+(\S+(?: \S+)?)\s+(\d{4}-\d{2}-\d{2} \d{2}:\d{2}|[A-Z][a-z]{2} +\d{1,2} \d{2}:\d{2})\s*(?:\((.*)\))?\s*$`)

// localTTY matches a utmp host that names the local terminal or display
// rather than a peer: ":0", ":1.0", "tty2", "pts/3".
var localTTY = regexp.MustCompile(`^(:\d+(\.\d+)?|tty\d+|pts/\d+|console)$`)

// tmuxPane matches the host tmux writes through libutempter for each pane,
// "tmux(<server pid>).%<pane id>": a shell on this machine, not a peer.
var tmuxPane = regexp.MustCompile(`^tmux\(\d+\)\.%\d+$`)

// moshHost matches what mosh-server writes through libutempter: "<client
// address> via mosh [<pid>]" while a client is connected, "mosh [<pid>]"
// before the first client and after 30 s without one.
var moshHost = regexp.MustCompile(`^(?:(\S+) via )?mosh \[\d+\]$`)

// screenSuffix is what GNU screen appends to the host of the login it runs
// in (":S.<window>"); the login's own host comes before it, empty when local.
var screenSuffix = regexp.MustCompile(`:S\.\d+$`)

// parseWho parses `who` output (run on macOS, and on Linux machines not
// booted with systemd). now and loc date the entries (macOS omits the year:
// the latest date not after now is taken).
//
// The host column is a peer only when it names one. Local forms are a
// display (":0"), a terminal ("tty2"), GDM's seat record ("login screen":
// a label, and no host name holds a space) and a tmux pane; none of them is
// a remote login. mosh is a remote login whose peer may be unknown: it is
// reported as type "remote" with the client's address when mosh-server
// names one, with no host and state "disconnected" when it does not.
func parseWho(out []byte, now time.Time, loc *time.Location) []*pb.Session {
	var sessions []*pb.Session
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		m := whoLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		s := &pb.Session{User: m[1]}
		s.Type, s.RemoteHost, s.State = whoSessionKind(strings.TrimSpace(m[4]))
		if t, ok := parseWhoTime(m[3], now, loc); ok {
			s.Started = timestamppb.New(t)
		}
		sessions = append(sessions, s)
	}
	return sessions
}

// whoSessionKind judges a utmp host: the session type, the peer (empty
// unless remote) and the session state.
func whoSessionKind(host string) (kind, peer, state string) {
	if m := moshHost.FindStringSubmatch(host); m != nil {
		switch {
		case m[1] == "":
			return sessionRemote, "", "disconnected"
		case localTTY.MatchString(m[1]) || tmuxPane.MatchString(m[1]):
			// mosh-server writes the client's IP address: a display or a
			// terminal there is a forged or garbled record, not a peer.
			return sessionRemote, "", "active"
		}
		return sessionRemote, m[1], "active"
	}
	host = screenSuffix.ReplaceAllString(host, "")
	switch {
	case host == "" || localTTY.MatchString(host):
		if strings.HasPrefix(host, ":") {
			return sessionX11, "", "active"
		}
		return sessionConsole, "", "active"
	case tmuxPane.MatchString(host), strings.ContainsAny(host, " \t"):
		return sessionConsole, "", "active"
	}
	// A remote peer on a terminal line is a shell login: ssh (telnet and
	// rlogin look the same in utmp).
	return sessionSSH, host, "active"
}

func parseWhoTime(s string, now time.Time, loc *time.Location) (time.Time, bool) {
	if t, err := time.ParseInLocation("2006-01-02 15:04", s, loc); err == nil {
		return t, true
	}
	t, err := time.ParseInLocation("Jan _2 15:04", strings.Join(strings.Fields(s), " "), loc)
	if err != nil {
		if t, err = time.ParseInLocation("Jan 2 15:04", strings.Join(strings.Fields(s), " "), loc); err != nil {
			return time.Time{}, false
		}
	}
	now = now.In(loc)
	t = t.AddDate(now.Year(), 0, 0)
	if t.After(now.Add(24 * time.Hour)) {
		t = t.AddDate(-1, 0, 0)
	}
	return t, true
}

// launchdServiceLoaded interprets `launchctl print system/<label>`: exit
// status 0 when the service is loaded (enabled), non-zero (113, "Could not
// find service") when it is not. ok is false when launchctl did not run.
func launchdServiceLoaded(err error) (loaded, ok bool) {
	if err == nil {
		return true, true
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return false, true
	}
	return false, false
}

// rdpEnabled applies Windows' rule for fDenyTSConnections: the Group
// Policy value, when set, overrides the Terminal Server key; 0 allows
// connections. A missing value denies (the Windows default).
func rdpEnabled(deny, policyDeny *uint32) bool {
	if policyDeny != nil {
		return *policyDeny == 0
	}
	return deny != nil && *deny == 0
}

// wtsSession is what WTSEnumerateSessionsW and WTSQuerySessionInformationW
// tell about one Windows session.
type wtsSession struct {
	ID       uint32
	Station  string // e.g. Console, RDP-Tcp#3, Services
	State    uint32 // WTS_CONNECTSTATE_CLASS
	User     string
	Domain   string
	Protocol uint16 // WTSClientProtocolType: 0 console, 1 ICA, 2 RDP
	// WTS_CLIENT_ADDRESS
	AddrFamily uint32
	Addr       [20]byte
	LogonTime  int64 // FILETIME, 100 ns since 1601, 0 when unknown
}

var wtsStates = []string{"active", "connected", "connect-query", "shadow", "disconnected", "idle", "listen", "reset", "down", "init"}

// sessionFromWTS turns a Windows session into a report session; sessions
// without a user (the services session, RDP listeners) are skipped.
func sessionFromWTS(w wtsSession) (*pb.Session, bool) {
	if w.User == "" {
		return nil, false
	}
	s := &pb.Session{User: w.User}
	if w.Domain != "" {
		s.User = w.Domain + `\` + w.User
	}
	if int(w.State) < len(wtsStates) {
		s.State = wtsStates[w.State]
	}
	switch {
	case w.Protocol == 2 || strings.HasPrefix(strings.ToUpper(w.Station), "RDP-"):
		s.Type = sessionRDP
		s.RemoteHost = wtsClientAddress(w.AddrFamily, w.Addr)
	case w.Protocol == 1:
		s.Type = "ica"
		s.RemoteHost = wtsClientAddress(w.AddrFamily, w.Addr)
	default:
		s.Type = sessionConsole
	}
	if w.LogonTime > 0 {
		s.Started = timestamppb.New(filetimeToTime(w.LogonTime))
	}
	return s, true
}

// wtsClientAddress decodes WTS_CLIENT_ADDRESS: for AF_INET the address is in
// bytes 2 to 5 of Address (where a sockaddr_in would have it after the
// port). Other families are not decoded.
func wtsClientAddress(family uint32, addr [20]byte) string {
	if family != 2 {
		return ""
	}
	a := netip.AddrFrom4([4]byte(addr[2:6]))
	if a.IsUnspecified() {
		return ""
	}
	return a.String()
}

// filetimeToTime converts a Windows FILETIME (100 ns since 1601-01-01 UTC).
func filetimeToTime(ft int64) time.Time {
	const epochDelta = 116444736000000000 // 1601 to 1970 in 100 ns
	return time.Unix(0, (ft-epochDelta)*100).UTC()
}

// Windows service start types and states (winsvc.h).
const (
	svcAutoStart = 2 // SERVICE_AUTO_START
	svcRunning   = 4 // SERVICE_RUNNING
)

// serviceEnabled: a service counts as enabled when it starts with Windows
// or runs now.
func serviceEnabled(startType, state uint32) bool {
	return startType == svcAutoStart || state == svcRunning
}
