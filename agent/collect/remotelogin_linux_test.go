package collect

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

func TestReadRemoteLoginLinux(t *testing.T) {
	old := listeningTCPPorts
	t.Cleanup(func() { listeningTCPPorts = old })
	listeningTCPPorts = func(context.Context) ([]uint16, error) { return []uint16{631, 5901}, nil }

	env := fixtureEnv(t, filepath.Join("remotelogin", "root"), january)
	var ran [][]string
	env.Command = func(_ context.Context, name string, args ...string) ([]byte, error) {
		ran = append(ran, append([]string{name}, args...))
		switch {
		case name == "loginctl" && args[0] == "list-sessions":
			return testdataFile(t, "linux", "remotelogin/loginctl-list-sessions.txt"), nil
		case name == "loginctl" && args[0] == "show-session":
			return testdataFile(t, "linux", "remotelogin/loginctl-show-session.txt"), nil
		}
		return nil, fmt.Errorf("%s: not expected", name)
	}
	r := Collect(context.Background(), env, Options{Only: []string{"remote_login"}})
	if len(r.GetErrors()) != 0 {
		t.Fatalf("errors: %v", r.GetErrors())
	}
	ra := r.GetRemoteAccess()
	// ssh and xrdp from the .wants links, VNC from the listener on 5901;
	// cups.socket is no remote login.
	if !ra.GetSshEnabled() || !ra.GetRdpEnabled() || !ra.GetVncEnabled() || ra.GetScreenSharingEnabled() {
		t.Errorf("enabled flags: %v", ra)
	}
	if len(ra.GetSessions()) != 3 {
		t.Errorf("sessions: %v", ra.GetSessions())
	}
	// The IDs come from /run/systemd/sessions: one loginctl call.
	if len(ran) != 1 || !slices.Contains(ran[0], "2") || !slices.Contains(ran[0], "c1") || slices.Contains(ran[0], "2.ref") ||
		!slices.Contains(ran[0], "RemoteHost") {
		t.Errorf("commands: %q", ran)
	}

	// systemd without the sessions directory: loginctl lists them.
	noDir := t.TempDir()
	writeFiles(t, noDir, map[string]string{"run/systemd/system/.keep": ""})
	env.Root, ran = noDir, nil
	r = Collect(context.Background(), env, Options{Only: []string{"remote_login"}})
	if len(r.GetErrors()) != 0 || len(r.GetRemoteAccess().GetSessions()) != 3 || len(ran) != 2 || ran[0][1] != "list-sessions" {
		t.Errorf("loginctl list-sessions: %v, commands %q, errors %v", r.GetRemoteAccess().GetSessions(), ran, r.GetErrors())
	}

	// Not booted with systemd: utmp through who.
	env.Root = t.TempDir()
	env.Command = func(_ context.Context, name string, _ ...string) ([]byte, error) {
		if name == "who" {
			return testdataFile(t, "linux", "remotelogin/who.txt"), nil
		}
		return nil, fmt.Errorf("%s: executable file not found", name)
	}
	r = Collect(context.Background(), env, Options{Only: []string{"remote_login"}})
	if len(r.GetErrors()) != 0 || len(r.GetRemoteAccess().GetSessions()) != 4 {
		t.Errorf("who fallback: %v, errors %v", r.GetRemoteAccess().GetSessions(), r.GetErrors())
	}
}

// The unit names of the catalog are globs, matched in every .wants
// directory; a unit anywhere else enables nothing.
func TestWantedRemoteUnits(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, map[string]string{
		"etc/systemd/system/graphical.target.wants/x11vnc@1.service": "",
		"etc/systemd/system/sockets.target.wants/sshd.socket":        "",
		"etc/systemd/system/xrdp.service":                            "",
		"etc/systemd/system/xrdp.service.d/override.conf":            "",
	})
	env := &Env{Root: root}
	units := wantedUnits(env)
	slices.Sort(units)
	if want := []string{"sshd.socket", "x11vnc@1.service"}; !slices.Equal(units, want) {
		t.Fatalf("wantedUnits = %q, want %q", units, want)
	}
	ra := &pb.RemoteAccess{}
	applyEnabledUnits(ra, units)
	if !ra.GetSshEnabled() || !ra.GetVncEnabled() || ra.GetRdpEnabled() {
		t.Errorf("enabled flags from %q: %v", units, ra)
	}
}
