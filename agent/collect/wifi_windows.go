package collect

import (
	"context"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// wifiState reads `netsh wlan show interfaces` (the connected BSS) and
// `netsh wlan show networks mode=bssid` (the BSSes of Windows' last
// background scan: netsh does not trigger one). Since Windows 11 24H2 both
// fail with ERROR_ACCESS_DENIED unless location access is allowed for
// desktop apps; the agent then reports what it has and says why in
// Wifi.note. netsh exits non-zero in that case, so its output is parsed
// whatever the exit status.
func wifiState(ctx context.Context, env *Env) (*pb.Wifi, error) {
	ifs, ifErr := env.Command(ctx, "netsh", "wlan", "show", "interfaces")
	nets, _ := env.Command(ctx, "netsh", "wlan", "show", "networks", "mode=bssid")
	w, err := windowsWifi(ifs, nets)
	if err != nil && ifErr != nil && len(ifs) == 0 {
		return nil, ifErr
	}
	return w, err
}
