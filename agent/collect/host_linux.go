package collect

import (
	"github.com/shirou/gopsutil/v4/host"

	"context"
	"os"
	"strings"
)

// hostName reads the kernel's hostname under the root (what os.Hostname
// reads on Linux), so a fixture can give one. Its bytes are kept as they
// are: the kernel takes any, UTF-8 or not.
func hostName(env *Env) (string, error) {
	if b, err := env.ReadFile("proc/sys/kernel/hostname"); err == nil {
		if s := strings.TrimRight(string(b), "\n"); s != "" {
			return s, nil
		}
	}
	return os.Hostname()
}

// hardwareIdentity reads DMI: the product name is world-readable, the serial
// only for root (an unprivileged run simply reports no serial).
func hardwareIdentity(_ context.Context, env *Env) (model, serial string) {
	vendor, _ := env.ReadFile("sys/class/dmi/id/sys_vendor")
	product, _ := env.ReadFile("sys/class/dmi/id/product_name")
	model = strings.TrimSpace(strings.TrimSpace(string(vendor)) + " " + strings.TrimSpace(string(product)))
	if b, err := env.ReadFile("sys/class/dmi/id/product_serial"); err == nil {
		serial = strings.TrimSpace(string(b))
	}
	return model, serial
}

// platformInfo reads the distribution from os-release (as systemd and every
// current distribution provide it) instead of gopsutil's lsb_release
// fallback, which starts a shell script and four processes every cycle.
func platformInfo(ctx context.Context, env *Env) (platform, version string, err error) {
	for _, p := range []string{"etc/os-release", "usr/lib/os-release"} {
		b, rerr := env.ReadFile(p)
		if rerr != nil {
			continue
		}
		kv := parseOSRelease(b)
		if kv["ID"] != "" {
			return kv["ID"], kv["VERSION_ID"], nil
		}
	}
	platform, _, version, err = host.PlatformInformationWithContext(ctx)
	return platform, version, err
}
