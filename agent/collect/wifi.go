package collect

import (
	"context"
	"errors"
	"time"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

func init() { register("wifi", 10*time.Second, collectWifi) }

// errNoWifi means the machine has no Wi-Fi interface (or none the OS will
// name): said in the error list, not a failure of the report.
var errNoWifi = errors.New("no Wi-Fi interface")

// collectWifi reports the current network and the nearby BSSIDs the OS
// already knows from its own scans: the agent never triggers a scan. Where
// the OS redacts a field (macOS without Location Services, Windows 24H2
// without location consent) Wifi.note says so and the rest is kept.
func collectWifi(ctx context.Context, env *Env, r *pb.Report) error {
	w, err := wifiState(ctx, env)
	if w != nil {
		if r.Network == nil {
			r.Network = &pb.Network{}
		}
		r.Network.Wifi = w
	}
	return err
}
