package collect

import (
	"regexp"
	"testing"
	"time"
)

// logindIDForm is what systemd's session_id_valid() accepts.
var logindIDForm = regexp.MustCompile(`^[A-Za-z0-9]+$`)

// FuzzActivity feeds loginctl's session list and show-session output,
// ioreg's HIDIdleTime and IOConsoleUsers the same bytes: session IDs are
// ones logind could have issued (they become loginctl arguments), idle
// times are -1 (unknown) or more, and a console user is present exactly
// when named.
func FuzzActivity(f *testing.F) {
	addFixtureSeeds(f,
		"linux/loginctl/*.txt",
		"linux/remotelogin/loginctl-*.txt",
		"darwin/ioreg_hidsystem.txt",
		"darwin/ioreg_root_*.txt",
	)
	f.Add([]byte("      2 1000 alice seat0 tty2\n\n1 sessions listed.\n"))
	f.Add([]byte("     -H 1000 alice\n --host=x 0 root\n"))
	f.Add([]byte("Id=2\nName=alice\nSeat=seat0\nActive=yes\nIdleHint=yes\nIdleSinceHint=1\n\nId=3\nSeat=seat0\nActive=yes\nIdleHint=yes\nIdleSinceHint=99999999999999999\n"))
	f.Add([]byte(`"HIDIdleTime" = 9223372036854775807` + "\n" + `"IOConsoleUsers" = ({"kCGSSessionOnConsoleKey"=Yes})`))
	now := time.Date(2026, time.January, 15, 18, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, id := range parseLoginctlSessionIDs(b) {
			if !logindIDForm.MatchString(id) {
				t.Fatalf("session ID %q is not one logind issues", id)
			}
		}
		a := activityFromLogind(parseLoginctlShow(b), now)
		if a.GetIdleSeconds() < -1 {
			t.Fatalf("logind idle seconds %d", a.GetIdleSeconds())
		}
		if !a.GetConsoleUserPresent() && (a.GetConsoleUser() != "" || a.GetScreenLocked()) {
			t.Fatalf("logind: nobody present but %+v", a)
		}
		if idle := parseHIDIdleTime(b); idle < -1 {
			t.Fatalf("HIDIdleTime %d", idle)
		}
		if user, present, locked := parseConsoleUsers(b); present != (user != "") || (!present && locked) {
			t.Fatalf("IOConsoleUsers: user %q present %v locked %v", user, present, locked)
		}
	})
}
