package collect

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// readPower reads /sys/class/power_supply/*/{type,online,status,capacity,
// present,scope} and the ACPI lid button /proc/acpi/button/lid/*/state. A
// machine without an ACPI lid (desktops, many VMs) reports "unknown".
func readPower(_ context.Context, env *Env) (*pb.Power, error) {
	dir := env.Path("sys/class/power_supply")
	entries, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		return nil, err
	}
	var supplies []powerSupply
	for _, e := range entries {
		read := func(attr string) string {
			b, err := env.ReadFile("sys/class/power_supply", e.Name(), attr)
			if err != nil {
				return ""
			}
			return strings.TrimSpace(string(b))
		}
		supplies = append(supplies, powerSupply{Name: e.Name(), Type: read("type"), Online: read("online"),
			Status: read("status"), Capacity: read("capacity"), Present: read("present"), Scope: read("scope")})
	}
	p := powerFromSupplies(supplies)
	lids, _ := filepath.Glob(env.Path("proc/acpi/button/lid/*/state"))
	sort.Strings(lids)
	for _, l := range lids {
		if b, err := os.ReadFile(l); err == nil {
			if s := parseACPILid(b); s != LidUnknown {
				p.Lid = s
				break
			}
		}
	}
	return p, nil
}
