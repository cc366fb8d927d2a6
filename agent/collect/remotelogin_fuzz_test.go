package collect

import (
	"strings"
	"testing"
	"time"
)

// FuzzParseWho: any bytes give sessions whose peer, when there is one, is
// an address or host name, never a display, a terminal, a tmux pane, a
// label with spaces or mosh's own marker.
func FuzzParseWho(f *testing.F) {
	addFixtureSeeds(f, "linux/remotelogin/who*.txt", "darwin/who*.txt")
	f.Add([]byte("alice    seat0        Jan 15 08:58 (login screen)\n"))
	f.Add([]byte("a pts/0 2026-01-15 11:42 (mosh [1] via mosh [2])\n"))
	f.Add([]byte("a sshd pts/0 Jan  5 09:00 (tmux(1).%2:S.3)\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		sessions := parseWho(b, january, time.UTC)
		if lines := strings.Count(string(b), "\n") + 1; len(sessions) > lines {
			t.Fatalf("%d sessions from %d lines", len(sessions), lines)
		}
		for _, s := range sessions {
			switch s.GetType() {
			case sessionConsole, sessionX11:
				if s.GetRemoteHost() != "" {
					t.Fatalf("local session with a peer: %v", s)
				}
			case sessionSSH, sessionRemote:
				h := s.GetRemoteHost()
				if h == "" && s.GetType() == sessionSSH {
					t.Fatalf("ssh session without a peer: %v", s)
				}
				if strings.ContainsAny(h, " \t") || localTTY.MatchString(h) || tmuxPane.MatchString(h) || strings.Contains(h, "mosh [") {
					t.Fatalf("peer %q is not a host: %v", h, s)
				}
			default:
				t.Fatalf("unexpected type %q", s.GetType())
			}
			if s.GetUser() == "" {
				t.Fatalf("session without a user: %v", s)
			}
		}
	})
}
