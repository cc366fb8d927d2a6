package collect

import "context"

// timeZone on Windows needs the Windows-to-IANA zone map (CLDR
// windowsZones.xml), which comes with the full agent signal set.
func timeZone(_ context.Context, _ *Env) (string, error) { return "", ErrNotSupported }
