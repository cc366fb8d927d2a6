package collect

import (
	"github.com/shirou/gopsutil/v4/host"

	"context"
	"os"
	"regexp"
	"strings"
)

var ioregSerial = regexp.MustCompile(`"IOPlatformSerialNumber" = "([^"]+)"`)

// hardwareIdentity asks sysctl for the model and IOKit for the serial.
func hardwareIdentity(ctx context.Context, env *Env) (model, serial string) {
	if out, err := env.Command(ctx, "sysctl", "-n", "hw.model"); err == nil {
		model = strings.TrimSpace(string(out))
	}
	if out, err := env.Command(ctx, "ioreg", "-rd1", "-c", "IOPlatformExpertDevice"); err == nil {
		if m := ioregSerial.FindSubmatch(out); m != nil {
			serial = string(m[1])
		}
	}
	return model, serial
}

// platformInfo asks gopsutil (sw_vers underneath).
func platformInfo(ctx context.Context, _ *Env) (platform, version string, err error) {
	platform, _, version, err = host.PlatformInformationWithContext(ctx)
	return platform, version, err
}

// hostName is the OS's hostname.
func hostName(*Env) (string, error) { return os.Hostname() }
