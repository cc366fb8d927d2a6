package collect

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"time"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

func init() { register("locale", 5*time.Second, collectLocale) }

// collectLocale: IANA time zone, the current UTC offset, the locale, and
// the keyboard layouts and input methods of the machine and its logged-on
// users with the languages they type. Clock skew is stamped by the reporter.
func collectLocale(ctx context.Context, env *Env, r *pb.Report) error {
	zone, err := timeZone(ctx, env)
	l := &pb.Locale{TimeZone: zone, Locale: localeName(env)}
	if l.Locale == "" {
		l.Locale = osLocaleName(ctx, env)
	}
	src, ierr := readInputSources(ctx, env)
	l.KeyboardLayouts, l.InputMethods = src.Layouts, src.Methods
	l.InputLanguages = inputLanguages(runtime.GOOS, src)
	if ierr != nil {
		err = errors.Join(err, fmt.Errorf("input sources: %w", ierr))
	}
	now := env.Now()
	if zone != "" {
		if loc, lerr := time.LoadLocation(zone); lerr == nil {
			now = now.In(loc)
		}
	}
	_, off := now.Zone()
	l.UtcOffsetSeconds = int32(off)
	r.Locale = l
	return err
}

func localeName(env *Env) string {
	for _, k := range []string{"LC_ALL", "LC_MESSAGES", "LANG"} {
		if v := env.Getenv(k); v != "" {
			return v
		}
	}
	return ""
}

// zoneFromLink turns an /etc/localtime link target such as
// "../usr/share/zoneinfo/America/Chicago" or
// "/var/db/timezone/zoneinfo/Asia/Seoul" into the IANA name. The posix/ and
// right/ trees of tzdata hold the same zones (right/ with leap seconds).
func zoneFromLink(target string) string {
	if i := strings.Index(target, "zoneinfo/"); i >= 0 {
		zone := target[i+len("zoneinfo/"):]
		for _, tree := range []string{"posix/", "right/"} {
			zone = strings.TrimPrefix(zone, tree)
		}
		return zone
	}
	return ""
}
