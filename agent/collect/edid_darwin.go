package collect

import (
	"context"
	"errors"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// listDisplays reads the EDIDs IOKit keeps: IODisplayConnect on Intel Macs,
// IOPortTransportStateDisplayPort for external displays on Apple silicon.
// Built-in panels of Apple silicon Macs have no EDID node; when no EDID is
// found at all, system_profiler's display names (no raw EDID) are used.
func listDisplays(ctx context.Context, env *Env) ([]*pb.Display, error) {
	var out []*pb.Display
	var errs []error
	for _, class := range []string{"IODisplayConnect", "IOPortTransportStateDisplayPort"} {
		b, err := env.Command(ctx, "ioreg", "-lw0", "-r", "-c", class)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		conns, blobs := parseIoregEDIDs(b)
		for i := range blobs {
			d, err := displayFromEDID(conns[i], blobs[i])
			out = append(out, d)
			if err != nil {
				errs = append(errs, err)
			}
		}
	}
	if len(out) > 0 {
		return out, errors.Join(errs...)
	}
	b, err := env.Command(ctx, "system_profiler", "-json", "SPDisplaysDataType")
	if err != nil {
		return nil, errors.Join(append(errs, err)...)
	}
	return parseSystemProfilerDisplays(b)
}
