// Command atlasgen refreshes the map shapes the console embeds
// (internal/console/atlas) from the pinned npm packages world-atlas and
// us-atlas (Natural Earth, public domain; packaging ISC): `make
// console-assets`. The files are copied as published, with the packages'
// licences, and a SOURCES.txt that names the pins.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/farmwatch/farmwatch/internal/npmpkg"
)

var (
	worldAtlas = npmpkg.Package{
		Name:      "world-atlas",
		Version:   "2.0.2",
		Integrity: "sha512-IXfV0qwlKXpckz1FhwXVwKRjiIhOnWttOskm5CtxMsjgE/MXAYRHWJqgXOpM8IkcPBoXnyTU5lFHcYa5ChG0LQ==",
	}
	usAtlas = npmpkg.Package{
		Name:      "us-atlas",
		Version:   "3.0.1",
		Integrity: "sha512-wEIZCq0ImPvGblTd8gZMqNNCPkQshugMUG/8nkSWXb02+XqNFREg9atHOKP9w6prLZTpqcLhSvdBW81MkV3/0Q==",
	}
)

// The files taken from each package, and the names they get in the atlas folder.
var picks = []struct {
	pkg      npmpkg.Package
	from, to string
}{
	{worldAtlas, "countries-110m.json", "countries-110m.json"},
	{worldAtlas, "LICENSE", "LICENSE.world-atlas"},
	{usAtlas, "states-10m.json", "states-10m.json"},
	{usAtlas, "LICENSE", "LICENSE.us-atlas"},
}

func main() {
	out := flag.String("out", "internal/console/atlas", "folder of the embedded map shapes")
	cache := flag.String("cache", "", "folder for downloaded npm tarballs (default a temporary folder)")
	flag.Parse()
	if err := run(*out, *cache); err != nil {
		fmt.Fprintln(os.Stderr, "atlasgen:", err)
		os.Exit(1)
	}
}

func run(out, cache string) error {
	if cache == "" {
		dir, err := os.MkdirTemp("", "atlasgen")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		cache = dir
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	tarballs := map[string]string{}
	for _, p := range []npmpkg.Package{worldAtlas, usAtlas} {
		tgz, err := npmpkg.Fetch(cache, p)
		if err != nil {
			return err
		}
		tarballs[p.Name] = tgz
	}
	for _, pick := range picks {
		files, err := npmpkg.ReadFiles(tarballs[pick.pkg.Name], pick.from)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(out, pick.to), files[pick.from], 0o644); err != nil {
			return err
		}
	}
	return os.WriteFile(filepath.Join(out, "SOURCES.txt"), sources(), 0o644)
}

func sources() []byte {
	var b bytes.Buffer
	b.WriteString("Map shapes embedded in the farmwatch console; written by `make console-assets`.\n\n")
	for _, p := range []npmpkg.Package{worldAtlas, usAtlas} {
		fmt.Fprintf(&b, "%s (npm, %s)\n", p, p.Integrity)
	}
	b.WriteString(`
countries-110m.json: world-atlas, Natural Earth 1:110m Cultural Vectors, Admin 0 - Countries.
states-10m.json: us-atlas, U.S. Census Bureau cartographic state boundaries, 2017 edition, 1:10,000,000.
Natural Earth data and U.S. Census Bureau data are in the public domain. The TopoJSON packaging is
Copyright 2013-2019 Michael Bostock under the ISC licence (LICENSE.world-atlas, LICENSE.us-atlas).
`)
	return b.Bytes()
}
