package collect

import (
	"context"
	"errors"
	"strings"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// readActivity reads HIDIdleTime from IOHIDSystem (system-wide, readable by
// a daemon) and the console session from IOConsoleUsers, which also carries
// CGSSessionScreenIsLocked while the screen is locked. Where
// IOConsoleUsers is missing, `stat -f %Su /dev/console` names the console
// owner ("root" at the login window). Screen lock is then unknown and
// reported false: the other source, CGSessionCopyCurrentDictionary, works
// only inside the user's GUI session.
func readActivity(ctx context.Context, env *Env) (*pb.Activity, error) {
	a := &pb.Activity{IdleSeconds: -1}
	var errs []error
	if out, err := env.Command(ctx, "ioreg", "-c", "IOHIDSystem", "-d", "4"); err == nil {
		a.IdleSeconds = parseHIDIdleTime(out)
	} else {
		errs = append(errs, err)
	}
	if out, err := env.Command(ctx, "ioreg", "-n", "Root", "-d1"); err == nil && strings.Contains(string(out), "IOConsoleUsers") {
		a.ConsoleUser, a.ConsoleUserPresent, a.ScreenLocked = parseConsoleUsers(out)
		return a, errors.Join(errs...)
	}
	out, err := env.Command(ctx, "stat", "-f", "%Su", "/dev/console")
	if err != nil {
		return a, errors.Join(append(errs, err)...)
	}
	if u := strings.TrimSpace(string(out)); u != "" && u != "root" {
		a.ConsoleUser, a.ConsoleUserPresent = u, true
	}
	return a, errors.Join(errs...)
}
