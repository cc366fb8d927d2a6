package collect

import "context"

// dnsServers on Windows comes from GetAdaptersAddresses with the full agent
// signal set.
func dnsServers(_ context.Context, _ *Env) ([]string, error) { return nil, ErrNotSupported }
