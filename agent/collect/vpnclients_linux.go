package collect

import (
	"context"
	"errors"
	"io/fs"
	"os"
)

// interfaceNames lists the network interfaces. On the real machine they come
// from the kernel as the interfaces collector reads them; under a fixture
// root, from its sys/class/net, where a root without one has none.
func interfaceNames(ctx context.Context, env *Env) ([]string, error) {
	if env.Root == "" || env.Root == "/" {
		return netInterfaceNames(ctx, env)
	}
	entries, err := os.ReadDir(env.Path("sys", "class", "net"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(entries))
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out, nil
}
