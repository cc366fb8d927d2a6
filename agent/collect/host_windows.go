package collect

import (
	"github.com/shirou/gopsutil/v4/host"

	"context"
	"os"

	"golang.org/x/sys/windows/registry"
)

// hardwareIdentity reads the firmware's system identity from the registry
// (the BIOS serial needs WMI and comes with the full agent signal set).
func hardwareIdentity(_ context.Context, _ *Env) (model, serial string) {
	k, err := registry.OpenKey(registry.LOCAL_MACHINE, `HARDWARE\DESCRIPTION\System\BIOS`, registry.QUERY_VALUE)
	if err != nil {
		return "", ""
	}
	defer k.Close()
	maker, _, _ := k.GetStringValue("SystemManufacturer")
	product, _, _ := k.GetStringValue("SystemProductName")
	if maker != "" && product != "" {
		return maker + " " + product, ""
	}
	return maker + product, ""
}

// platformInfo asks gopsutil (the registry underneath).
func platformInfo(ctx context.Context, _ *Env) (platform, version string, err error) {
	platform, _, version, err = host.PlatformInformationWithContext(ctx)
	return platform, version, err
}

// hostName is the OS's hostname.
func hostName(*Env) (string, error) { return os.Hostname() }
