package dist

import (
	"debug/buildinfo"
	"fmt"
)

// Module is one module linked into a binary, as `go version -m` lists it.
type Module struct {
	Path, Version, Sum string
}

// BinaryModules reads the module list the Go linker wrote into a binary (any GOOS/GOARCH): the
// dependencies, with a replacement's path and version in place of the module it replaces.
func BinaryModules(path string) ([]Module, error) {
	info, err := buildinfo.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("module list of %s: %w", path, err)
	}
	mods := make([]Module, 0, len(info.Deps))
	for _, d := range info.Deps {
		if d.Replace != nil {
			d = d.Replace
		}
		mods = append(mods, Module{Path: d.Path, Version: d.Version, Sum: d.Sum})
	}
	return mods, nil
}
