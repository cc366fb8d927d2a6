package collect

import (
	"context"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// wifiState reads `system_profiler SPAirPortDataType -json`, the one source
// an unprivileged agent still has on current macOS:
//   - the airport CLI is gone since macOS 14.4;
//   - `wdutil info` needs root and prints SSID/BSSID redacted anyway;
//   - CoreWLAN (and system_profiler) redact SSID and BSSID unless the reading
//     process has Location Services permission (macOS 14.4 and later; macOS
//     15 extends this to system_profiler's current-network SSID). No MDM
//     profile can grant Location Services (PPPC has no such service): a user
//     must allow it in System Settings, and a daemon cannot ask, so the agent
//     usually reports Wi-Fi with SSID and BSSID redacted and says so;
//   - nearby networks come with SSID, channel and signal but never a BSSID.
//
// Whatever is redacted is said in Wifi.note; the signal levels and channels
// remain.
func wifiState(ctx context.Context, env *Env) (*pb.Wifi, error) {
	out, err := env.Command(ctx, "system_profiler", "SPAirPortDataType", "-json")
	if err != nil {
		return nil, err
	}
	return parseSystemProfilerAirPort(out)
}
