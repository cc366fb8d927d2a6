package collect

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/mdlayher/wifi"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// wifiState reads nl80211 directly (any user may read the current BSS and
// the kernel's cached scan results; only triggering a scan needs
// CAP_NET_ADMIN, and the agent never does). Without nl80211 (or when reading
// a fixture root) it falls back to NetworkManager's cache through nmcli.
func wifiState(ctx context.Context, env *Env) (*pb.Wifi, error) {
	var nlErr error
	if env.Root == "" || env.Root == "/" {
		list, err := nl80211Scan(ctx)
		if err == nil {
			return wifiFromScan(list, ""), nil
		}
		nlErr = err
	}
	out, err := env.Command(ctx, "nmcli", "-t", "-f", "IN-USE,BSSID,SSID,SIGNAL,FREQ",
		"dev", "wifi", "list", "--rescan", "no")
	if err == nil {
		if list := parseNmcliWifi(out); len(list) > 0 {
			return wifiFromScan(list, nmcliSignalNote), nil
		}
	}
	if nlErr != nil && !errors.Is(nlErr, errNoWifi) {
		return nil, fmt.Errorf("nl80211: %w; nmcli: %v", nlErr, err)
	}
	return nil, errNoWifi
}

// nl80211Scan lists the BSSes of every station-mode interface, the
// associated one marked current. Signal comes in mBm.
func nl80211Scan(ctx context.Context) ([]scanBSS, error) {
	c, err := wifi.New()
	if errors.Is(err, os.ErrNotExist) {
		return nil, errNoWifi // the kernel has no nl80211 family: no Wi-Fi driver loaded
	}
	if err != nil {
		return nil, err
	}
	defer c.Close()
	if d, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(d)
	} else {
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	}
	ifis, err := c.Interfaces()
	if err != nil {
		return nil, err
	}
	var list []scanBSS
	stations := 0
	for _, ifi := range ifis {
		if ifi.Name == "" || ifi.Type != wifi.InterfaceTypeStation {
			continue
		}
		stations++
		aps, err := c.AccessPoints(ifi)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", ifi.Name, err)
		}
		for _, ap := range aps {
			list = append(list, scanBSS{
				BSSID:     ap.BSSID.String(),
				SSID:      ap.SSID,
				SignalDBm: ap.Signal / 100,
				FreqMHz:   uint32(max(ap.Frequency, 0)),
				Current:   ap.Status == wifi.BSSStatusAssociated,
			})
		}
	}
	if stations == 0 {
		return nil, errNoWifi
	}
	return list, nil
}
