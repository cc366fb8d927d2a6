package collect

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// readActivity asks systemd-logind through loginctl. Without logind (no
// systemd, a container) the signal does not exist here: ErrNotSupported.
// X11 MIT-SCREEN-SAVER and GNOME's IdleMonitor would give the idle time of
// an active desktop too, but both need the user's display or session bus,
// which a system service does not have.
func readActivity(ctx context.Context, env *Env) (*pb.Activity, error) {
	// logind keeps /run/systemd/seats while it runs; without it there is
	// nobody to ask, and running loginctl only to fail costs a process.
	if _, err := os.Stat(env.Path("run/systemd/seats")); err != nil {
		return nil, fmt.Errorf("systemd-logind is not running: %w", ErrNotSupported)
	}
	ids, err := logindSessionIDs(ctx, env)
	if err != nil {
		if errors.Is(err, exec.ErrNotFound) {
			return nil, fmt.Errorf("loginctl: %w", ErrNotSupported)
		}
		return nil, fmt.Errorf("logind: %w (%w)", err, ErrNotSupported)
	}
	if len(ids) == 0 {
		return activityFromLogind(nil, env.Now()), nil
	}
	args := append([]string{"show-session"}, ids...)
	for _, p := range loginctlProperties {
		args = append(args, "-p", p)
	}
	out, err := env.Command(ctx, "loginctl", args...)
	if err != nil {
		return nil, err
	}
	return activityFromLogind(parseLoginctlShow(out), env.Now()), nil
}
