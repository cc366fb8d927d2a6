package collect

import (
	"slices"
	"strconv"
	"testing"
	"time"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

func activityEqual(a, b *pb.Activity) bool {
	return a.GetIdleSeconds() == b.GetIdleSeconds() && a.GetConsoleUserPresent() == b.GetConsoleUserPresent() &&
		a.GetScreenLocked() == b.GetScreenLocked() && a.GetConsoleUser() == b.GetConsoleUser()
}

func TestLoginctlFixture(t *testing.T) {
	ids := parseLoginctlSessionIDs(readFixture(t, "linux", "loginctl", "list-sessions.txt"))
	if len(ids) != 3 || ids[0] != "2" || ids[2] != "c1" {
		t.Fatalf("ids %v", ids)
	}
	sessions := parseLoginctlShow(readFixture(t, "linux", "loginctl", "show-session.txt"))
	if len(sessions) != 3 {
		t.Fatalf("%d sessions", len(sessions))
	}
	got := activityFromLogind(sessions, january) // 18:00, idle since 17:00
	want := &pb.Activity{IdleSeconds: 3600, ConsoleUserPresent: true, ScreenLocked: true, ConsoleUser: "alice"}
	if !activityEqual(got, want) {
		t.Errorf("%v, want %v", got, want)
	}
}

func TestActivityFromLogind(t *testing.T) {
	local := func(kv ...string) map[string]string {
		m := map[string]string{"Name": "alice", "Seat": "seat0", "Class": "user", "Remote": "no", "Active": "yes"}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	since := january.Add(-90 * time.Second).UnixMicro()
	tests := []struct {
		name     string
		sessions []map[string]string
		want     *pb.Activity
	}{
		{"nobody", nil, &pb.Activity{IdleSeconds: -1}},
		{"only ssh", []map[string]string{{"Name": "bob", "Seat": "", "Remote": "yes", "Active": "yes"}}, &pb.Activity{IdleSeconds: -1}},
		{"greeter only", []map[string]string{local("Name", "gdm", "Class", "greeter")}, &pb.Activity{IdleSeconds: -1}},
		{"active not idle", []map[string]string{local("IdleHint", "no", "IdleSinceHint", "0")},
			&pb.Activity{IdleSeconds: -1, ConsoleUserPresent: true, ConsoleUser: "alice"}},
		{"idle 90s", []map[string]string{local("IdleHint", "yes", "IdleSinceHint", itoa(since))},
			&pb.Activity{IdleSeconds: 90, ConsoleUserPresent: true, ConsoleUser: "alice"}},
		{"idle without a since", []map[string]string{local("IdleHint", "yes", "IdleSinceHint", "0")},
			&pb.Activity{IdleSeconds: -1, ConsoleUserPresent: true, ConsoleUser: "alice"}},
		{"idle since the future", []map[string]string{local("IdleHint", "yes", "IdleSinceHint", itoa(january.Add(time.Hour).UnixMicro()))},
			&pb.Activity{IdleSeconds: -1, ConsoleUserPresent: true, ConsoleUser: "alice"}},
		{"switched-away session on the seat", []map[string]string{local("Active", "no")}, &pb.Activity{IdleSeconds: -1}},
		{"active one wins", []map[string]string{local("Name", "bob", "Active", "no"), local("LockedHint", "yes")},
			&pb.Activity{IdleSeconds: -1, ConsoleUserPresent: true, ScreenLocked: true, ConsoleUser: "alice"}},
	}
	for _, tt := range tests {
		if got := activityFromLogind(tt.sessions, january); !activityEqual(got, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }

func TestParseHIDIdleTime(t *testing.T) {
	if got := parseHIDIdleTime(readFixture(t, "darwin", "ioreg_hidsystem.txt")); got != 7384 {
		t.Errorf("idle %d, want 7384", got)
	}
	if got := parseHIDIdleTime([]byte(`"HIDIdleTime" = 999999999`)); got != 0 {
		t.Errorf("sub-second idle %d", got)
	}
	if got := parseHIDIdleTime(nil); got != -1 {
		t.Errorf("absent: %d", got)
	}
}

func TestParseConsoleUsers(t *testing.T) {
	tests := []struct {
		file            string
		user            string
		present, locked bool
	}{
		{"ioreg_root_locked.txt", "alice", true, true},
		{"ioreg_root_loginwindow.txt", "bob", true, false},
	}
	for _, tt := range tests {
		u, p, l := parseConsoleUsers(readFixture(t, "darwin", tt.file))
		if u != tt.user || p != tt.present || l != tt.locked {
			t.Errorf("%s: %q %v %v", tt.file, u, p, l)
		}
	}
	if u, p, l := parseConsoleUsers([]byte(`"IOConsoleUsers" = ({"kCGSSessionOnConsoleKey"=No,"kCGSSessionUserNameKey"="alice"})`)); u != "" || p || l {
		t.Errorf("nobody on console: %q %v %v", u, p, l)
	}
	if _, p, _ := parseConsoleUsers(nil); p {
		t.Error("present without IOConsoleUsers")
	}
}

func TestWindowsIdle(t *testing.T) {
	const sec = 10_000_000
	if got := wtsIdleSeconds(1000*sec, 400*sec); got != 600 {
		t.Errorf("wts %d", got)
	}
	if got := wtsIdleSeconds(1000*sec, 0); got != -1 {
		t.Errorf("wts unset %d", got)
	}
	if got := wtsIdleSeconds(400*sec, 1000*sec); got != -1 {
		t.Errorf("wts future %d", got)
	}
	if got := tickIdleSeconds(5000, 2000); got != 3 {
		t.Errorf("tick %d", got)
	}
	if got := tickIdleSeconds(1000, 0xFFFFFFFF-999); got != 2 { // wrapped after 49.7 days
		t.Errorf("tick wrap %d", got)
	}
	for flags, want := range map[int32][2]bool{0: {true, true}, 1: {false, true}, -1: {false, false}} {
		if l, k := wtsLocked(flags); l != want[0] || k != want[1] {
			t.Errorf("flags %d: %v %v", flags, l, k)
		}
	}
}

// TestLoginctlSessionIDsNotIssued: only IDs logind issues (letters and
// digits) become show-session arguments; footers and options do not (the
// shapes FuzzActivity found).
func TestLoginctlSessionIDsNotIssued(t *testing.T) {
	out := []byte("      2 1000 alice seat0 tty2\n     -H 1000 alice\n Id=2\n\n1 sessions listed.\n")
	if got := parseLoginctlSessionIDs(out); !slices.Equal(got, []string{"2"}) {
		t.Errorf("session IDs %q, want [2]", got)
	}
	if got := parseLoginctlSessionIDs([]byte("No sessions.\n")); len(got) != 0 {
		t.Errorf("session IDs %q from No sessions.", got)
	}
}

// TestConsoleUsersLockedWithoutUser: a console session without a user name
// is nobody present and nothing locked.
func TestConsoleUsersLockedWithoutUser(t *testing.T) {
	user, present, locked := parseConsoleUsers([]byte(`"IOConsoleUsers" = ({"kCGSSessionOnConsoleKey"=Yes,"CGSSessionScreenIsLocked"=Yes})`))
	if user != "" || present || locked {
		t.Errorf("user %q present %v locked %v", user, present, locked)
	}
}
