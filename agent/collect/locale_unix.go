//go:build linux || darwin

package collect

import (
	"context"
	"errors"
	"os"
	"strings"
)

// timeZone reads the /etc/localtime link (Linux and macOS), then Debian's
// /etc/timezone, then TZ.
func timeZone(_ context.Context, env *Env) (string, error) {
	if target, err := os.Readlink(env.Path("etc/localtime")); err == nil {
		if z := zoneFromLink(target); z != "" {
			return z, nil
		}
	}
	if b, err := env.ReadFile("etc/timezone"); err == nil {
		if z := strings.TrimSpace(string(b)); z != "" {
			return z, nil
		}
	}
	if tz := strings.TrimPrefix(env.Getenv("TZ"), ":"); tz != "" && !strings.HasPrefix(tz, "/") {
		return tz, nil
	}
	return "", errors.New("no IANA time zone: /etc/localtime is not a zoneinfo link and /etc/timezone is absent")
}
