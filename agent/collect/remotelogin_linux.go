package collect

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// listeningTCPPorts is swapped in tests.
var listeningTCPPorts = func(ctx context.Context) ([]uint16, error) {
	socks, err := dumpTCPSockets(ctx, 1<<tcpListen)
	ports := make([]uint16, 0, len(socks))
	for _, s := range socks {
		ports = append(ports, s.Local.Port())
	}
	return ports, err
}

// systemdRemoteUnits are unit names (globs) whose presence in a target's
// .wants directory means systemd starts a remote-login service at boot:
// what `systemctl is-enabled` reports, read without running systemctl.
var systemdRemoteUnits = []struct {
	glob string
	set  func(*pb.RemoteAccess)
}{
	{"ssh.service", func(ra *pb.RemoteAccess) { ra.SshEnabled = true }},
	{"sshd.service", func(ra *pb.RemoteAccess) { ra.SshEnabled = true }},
	{"ssh.socket", func(ra *pb.RemoteAccess) { ra.SshEnabled = true }},
	{"sshd.socket", func(ra *pb.RemoteAccess) { ra.SshEnabled = true }},
	{"xrdp.service", func(ra *pb.RemoteAccess) { ra.RdpEnabled = true }},
	{"gnome-remote-desktop.service", func(ra *pb.RemoteAccess) { ra.RdpEnabled = true }},
	{"x11vnc*.service", func(ra *pb.RemoteAccess) { ra.VncEnabled = true }},
	{"vncserver@*.service", func(ra *pb.RemoteAccess) { ra.VncEnabled = true }},
	{"vncserver-x11-serviced.service", func(ra *pb.RemoteAccess) { ra.VncEnabled = true }},
}

// readRemoteLogin on Linux: listening sockets on 22, 3389 and 5900-5909
// from inet_diag; systemd units enabled in /etc/systemd/system/*.wants;
// sessions from systemd-logind (loginctl), else from utmp through `who`.
func readRemoteLogin(ctx context.Context, env *Env, ra *pb.RemoteAccess) error {
	var errs []error
	if ports, err := listeningTCPPorts(ctx); err != nil {
		errs = append(errs, fmt.Errorf("listening sockets: %w", err))
	} else {
		applyListeners(ra, ports)
	}
	applyEnabledUnits(ra, wantedUnits(env))
	sessions, err := linuxSessions(ctx, env)
	if err != nil {
		errs = append(errs, err)
	}
	ra.Sessions = sessions
	return errors.Join(errs...)
}

// wantedUnits lists the units in /etc/systemd/system/*.wants: each
// directory read once, where a glob per catalogued unit read them all again
// for every unit, every cycle.
func wantedUnits(env *Env) []string {
	dir := env.Path("etc/systemd/system")
	targets, _ := os.ReadDir(dir)
	var units []string
	for _, t := range targets {
		if !strings.HasSuffix(t.Name(), ".wants") {
			continue
		}
		entries, _ := os.ReadDir(filepath.Join(dir, t.Name()))
		for _, e := range entries {
			units = append(units, e.Name())
		}
	}
	return units
}

// applyEnabledUnits sets what the catalogued remote-login units among
// units say.
func applyEnabledUnits(ra *pb.RemoteAccess, units []string) {
	for _, u := range systemdRemoteUnits {
		for _, name := range units {
			if ok, _ := filepath.Match(u.glob, name); ok {
				u.set(ra)
				break
			}
		}
	}
}

// linuxSessions asks systemd-logind through loginctl, else reads utmp
// through who (machines not booted with systemd). The session IDs come from
// the directory sd_get_sessions(3) lists, which saves running
// `loginctl list-sessions` (and anything at all when nobody is logged in).
func linuxSessions(ctx context.Context, env *Env) ([]*pb.Session, error) {
	if _, err := os.Stat(env.Path("run/systemd/system")); err != nil { // sd_booted(3)
		out, werr := env.Command(ctx, "who")
		if werr != nil {
			return nil, fmt.Errorf("sessions: not booted with systemd and who failed: %w", werr)
		}
		return parseWho(out, env.Now(), time.Local), nil
	}
	ids, err := logindSessionIDs(ctx, env)
	if err != nil || len(ids) == 0 {
		return nil, err
	}
	args := append([]string{"show-session", "--no-pager"}, ids...)
	for _, p := range sessionProperties {
		args = append(args, "-p", p)
	}
	out, err := env.Command(ctx, "loginctl", args...)
	if err != nil && len(out) == 0 { // a session that ended meanwhile fails only its block
		return nil, fmt.Errorf("sessions: %w", err)
	}
	var sessions []*pb.Session
	for _, kv := range parseLoginctlShow(out) {
		if s, ok := logindSession(kv, time.Local); ok {
			sessions = append(sessions, s)
		}
	}
	return sessions, nil
}

func logindSessionIDs(ctx context.Context, env *Env) ([]string, error) {
	entries, err := os.ReadDir(env.Path("run/systemd/sessions"))
	if err != nil {
		list, lerr := env.Command(ctx, "loginctl", "list-sessions", "--no-legend", "--no-pager")
		if lerr != nil {
			return nil, fmt.Errorf("sessions: %w", lerr)
		}
		return parseLoginctlSessionIDs(list), nil
	}
	var ids []string
	for _, e := range entries {
		if !e.IsDir() && !strings.Contains(e.Name(), ".") { // skip the *.ref FIFOs
			ids = append(ids, e.Name())
		}
	}
	return ids, nil
}
