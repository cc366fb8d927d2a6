package collect

import (
	"context"
	"errors"
	"path/filepath"
	"sort"
	"strings"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// listDisplays reads /sys/class/drm/card*-*/edid: one entry per connector
// (card0-eDP-1, card1-HDMI-A-1); a connector without a monitor has an empty
// edid file and is skipped. The connector is reported without its card
// prefix.
func listDisplays(_ context.Context, env *Env) ([]*pb.Display, error) {
	paths, err := filepath.Glob(env.Path("sys/class/drm/card*-*", "edid"))
	if err != nil {
		return nil, err
	}
	sort.Strings(paths)
	var out []*pb.Display
	var errs []error
	for _, p := range paths {
		conn := filepath.Base(filepath.Dir(p))
		b, err := env.ReadFile("sys/class/drm", conn, "edid")
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if len(b) == 0 {
			continue
		}
		if _, rest, ok := strings.Cut(conn, "-"); ok {
			conn = rest
		}
		d, err := displayFromEDID(conn, b)
		out = append(out, d)
		if err != nil {
			errs = append(errs, err)
		}
	}
	return out, errors.Join(errs...)
}
