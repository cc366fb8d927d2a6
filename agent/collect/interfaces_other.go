//go:build !linux

package collect

// interfaceKind classifies by name on macOS and Windows (utun, Wi-Fi, ...);
// the full agent signal set refines this with the OS's interface types.
func interfaceKind(_ *Env, name string, flags []string) string { return kindFromName(name, flags) }
