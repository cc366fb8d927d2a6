package collect

import (
	"bufio"
	"bytes"
	"context"
	"regexp"
	"strconv"
	"strings"
	"time"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

func init() { register("activity", 5*time.Second, collectActivity) }

// collectActivity: seconds since the last local keyboard or mouse input, who
// sits at the console, and whether the screen is locked (readActivity is per
// OS). Nothing of the input itself is read: only its time.
func collectActivity(ctx context.Context, env *Env, r *pb.Report) error {
	a, err := readActivity(ctx, env)
	if a != nil {
		r.Activity = a
	}
	return err
}

// --- Linux: systemd-logind ---

// parseLoginctlSessionIDs reads `loginctl list-sessions --no-legend`: the
// first column is the session ID whatever the systemd version adds after it
// (SESSION UID USER SEAT TTY, later also STATE IDLE SINCE or LEADER CLASS).
// The IDs become loginctl arguments, so only what logind issues is kept:
// one unknown ID fails the whole show-session call, and "-H" would be an
// option.
func parseLoginctlSessionIDs(out []byte) []string {
	var ids []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		// The header, and the "2 sessions listed." or "No sessions." footer
		// that versions without --no-legend support print.
		if len(f) == 0 || f[0] == "SESSION" || (len(f) > 1 && strings.HasPrefix(f[1], "sessions")) {
			continue
		}
		if logindSessionID(f[0]) {
			ids = append(ids, f[0])
		}
	}
	return ids
}

// logindSessionID is systemd's session_id_valid(): letters and digits only.
func logindSessionID(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

// loginctlProperties are asked of `loginctl show-session <ids> -p ...`.
var loginctlProperties = []string{"Id", "Name", "Seat", "Type", "Class", "Remote", "Active", "State",
	"IdleHint", "IdleSinceHint", "LockedHint"}

// parseLoginctlShow reads `loginctl show-session 2 7 -p Id -p ...`: one
// Key=Value block per session, blocks separated by an empty line.
func parseLoginctlShow(out []byte) []map[string]string {
	var sessions []map[string]string
	cur := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			if len(cur) > 0 {
				sessions = append(sessions, cur)
				cur = map[string]string{}
			}
			continue
		}
		if k, v, ok := strings.Cut(line, "="); ok {
			cur[k] = v
		}
	}
	if len(cur) > 0 {
		sessions = append(sessions, cur)
	}
	return sessions
}

// activityFromLogind picks the console session (on a seat, not remote, of
// class user, the seat's active one) and reads its hints. logind knows the
// idle time only once the session is idle (IdleHint=yes, IdleSinceHint in
// microseconds since the epoch); desktops set the hint after their own idle
// delay and some never do, so a session that is not idle has an unknown
// idle time (-1) rather than a made-up 0.
func activityFromLogind(sessions []map[string]string, now time.Time) *pb.Activity {
	a := &pb.Activity{IdleSeconds: -1}
	var console map[string]string
	for _, s := range sessions {
		if s["Seat"] == "" || s["Remote"] == "yes" || (s["Class"] != "" && s["Class"] != "user") {
			continue
		}
		if console == nil || (s["Active"] == "yes" && console["Active"] != "yes") {
			console = s
		}
	}
	if console == nil || console["Active"] != "yes" {
		return a
	}
	a.ConsoleUserPresent = true
	a.ConsoleUser = console["Name"]
	a.ScreenLocked = console["LockedHint"] == "yes"
	if console["IdleHint"] == "yes" {
		if us, err := strconv.ParseInt(console["IdleSinceHint"], 10, 64); err == nil && us > 0 {
			if d := now.Sub(time.UnixMicro(us)); d >= 0 {
				a.IdleSeconds = int64(d / time.Second)
			}
		}
	}
	return a
}

// --- macOS ---

var hidIdleTime = regexp.MustCompile(`"HIDIdleTime"\s*=\s*(\d+)`)

// parseHIDIdleTime reads `ioreg -c IOHIDSystem -d 4`: "HIDIdleTime" =
// 1234567890 is nanoseconds since the last HID event, the same for every
// process (a daemon can read it); -1 when absent.
func parseHIDIdleTime(out []byte) int64 {
	m := hidIdleTime.FindSubmatch(out)
	if m == nil {
		return -1
	}
	ns, err := strconv.ParseInt(string(m[1]), 10, 64)
	if err != nil {
		return -1
	}
	return ns / int64(time.Second)
}

var (
	consoleUsersLine = regexp.MustCompile(`"IOConsoleUsers"\s*=\s*\((.*)\)`)
	consoleUserKV    = regexp.MustCompile(`"([^"]+)"=("[^"]*"|[^,}]*)`)
)

// parseConsoleUsers reads IOConsoleUsers from `ioreg -n Root -d1`, one
// dictionary per login session:
//
//	"IOConsoleUsers" = ({"kCGSSessionUserNameKey"="alice","kCGSSessionOnConsoleKey"=Yes,"CGSSessionScreenIsLocked"=Yes,...})
//
// The session with kCGSSessionOnConsoleKey=Yes owns the screen.
// CGSSessionScreenIsLocked is only present while the screen is locked, so
// its absence reads as unlocked; macOS versions that stop publishing it
// would therefore report unlocked (see activity_darwin.go).
func parseConsoleUsers(out []byte) (user string, present, locked bool) {
	m := consoleUsersLine.FindSubmatch(out)
	if m == nil {
		return "", false, false
	}
	for _, dict := range strings.Split(string(m[1]), "},{") {
		kv := map[string]string{}
		for _, p := range consoleUserKV.FindAllStringSubmatch(dict, -1) {
			kv[p[1]] = strings.Trim(p[2], `"`)
		}
		if kv["kCGSSessionOnConsoleKey"] != "Yes" {
			continue
		}
		// A console session without a user name is nobody's: its lock flag
		// locks no one out.
		user = kv["kCGSSessionUserNameKey"]
		return user, user != "", user != "" && kv["CGSSessionScreenIsLocked"] == "Yes"
	}
	return "", false, false
}

// --- Windows ---

// wtsIdleSeconds computes the idle time from WTSINFO's CurrentTime and
// LastInputTime (FILETIME, 100 ns units); -1 when LastInputTime is not set,
// as it often is not for the console session.
func wtsIdleSeconds(current, lastInput int64) int64 {
	if lastInput <= 0 || current < lastInput {
		return -1
	}
	return (current - lastInput) / 10_000_000
}

// tickIdleSeconds computes the idle time from GetTickCount and
// LASTINPUTINFO.dwTime, both milliseconds since boot in 32 bits: the
// unsigned difference survives the wrap after 49.7 days.
func tickIdleSeconds(now, lastInput uint32) int64 {
	return int64(now-lastInput) / 1000
}

// Session lock flags of WTSINFOEX_LEVEL1.SessionFlags.
const (
	wtsSessionStateLock   = 0
	wtsSessionStateUnlock = 1
)

// wtsLocked reads SessionFlags (WTS_SESSIONSTATE_LOCK 0, _UNLOCK 1,
// _UNKNOWN -1). Windows 7 and Server 2008 R2 had the two values swapped;
// farmwatch supports Windows 10 and later only.
func wtsLocked(flags int32) (locked, known bool) {
	switch flags {
	case wtsSessionStateLock:
		return true, true
	case wtsSessionStateUnlock:
		return false, true
	}
	return false, false
}
