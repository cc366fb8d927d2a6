package collect

import "context"

// interfaceClassifier asks `networksetup -listallhardwareports` once which
// devices are Wi-Fi, Ethernet or bridges; the name decides the rest (utun,
// ipsec and ppp tunnels, awdl and llw Apple links).
func interfaceClassifier(ctx context.Context, env *Env) func(name string, flags []string) string {
	var ports map[string]string
	if out, err := env.Command(ctx, "networksetup", "-listallhardwareports"); err == nil {
		ports = parseHardwarePorts(out)
	}
	return func(name string, flags []string) string { return darwinInterfaceKind(ports, name, flags) }
}
