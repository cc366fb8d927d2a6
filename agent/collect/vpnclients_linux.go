package collect

import (
	"context"
	"os"
)

// interfaceNames lists the kernel's network interfaces from /sys/class/net,
// under the Env's root so that tests can give a fixture's.
func interfaceNames(_ context.Context, env *Env) ([]string, error) {
	entries, err := os.ReadDir(env.Path("sys", "class", "net"))
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(entries))
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out, nil
}
