package collect

import (
	"context"
	"strings"
)

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
