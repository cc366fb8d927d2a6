//go:build !linux

package collect

import "context"

// defaultGateway on macOS and Windows arrives with the full agent signal set
// (route FetchRIB and GetIpForwardTable2); until then the report says so.
func defaultGateway(_ context.Context, _ *Env) (string, string, error) {
	return "", "", ErrNotSupported
}
