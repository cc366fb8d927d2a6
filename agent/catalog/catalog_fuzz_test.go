package catalog

import (
	"slices"
	"testing"
)

// FuzzParse feeds the catalog decoder any bytes, seeded with both embedded
// catalogs and their truncations: it refuses or returns a catalog whose
// indexes agree with its tools (every process name finds its tool, every
// ID looks up, every listening port lists it), and matching any process
// against it does not panic.
func FuzzParse(f *testing.F) {
	for _, b := range [][]byte{remoteAccessJSON, vpnClientsJSON} {
		f.Add(b)
		for _, cut := range []int{len(b) / 4, len(b) / 2, len(b) * 3 / 4, len(b) - 1} {
			f.Add(b[:cut])
		}
	}
	f.Add([]byte(`{"version":"2026.01.1","updated":"2026-01-01","tools":[{"id":"a","name":"A","vendor":"V","kind":"vnc","source":"s",` +
		`"processes":{"darwin":["ÀBCDEFGHIJKLMNOPQRSTU"],"linux":["abcdefghijklmnopq"]},"paths":["/opt/abc/bin/"],` +
		`"ports":[{"proto":"tcp","port":5900,"direction":"listen"}]}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Parse(b)
		if err != nil {
			return
		}
		for _, tool := range c.Tools {
			if got, ok := c.Lookup(tool.ID); !ok || got.ID != tool.ID {
				t.Fatalf("Lookup(%q) = %q, %v", tool.ID, got.ID, ok)
			}
			for goos, names := range tool.Processes {
				for _, n := range names {
					if got, ok := c.MatchProcess(goos, n, ""); !ok || got.ID != tool.ID {
						t.Fatalf("%s process %q matched %q, %v; want %q", goos, n, got.ID, ok, tool.ID)
					}
				}
			}
			for _, p := range tool.Ports {
				if p.Direction != "listen" {
					continue
				}
				if !slices.ContainsFunc(c.ToolsListeningOn(p.Port), func(o Tool) bool { return o.ID == tool.ID }) {
					t.Fatalf("port %d does not list %q", p.Port, tool.ID)
				}
			}
		}
		s := string(b)
		for _, goos := range []string{"linux", "darwin", "windows", "plan9"} {
			c.MatchProcess(goos, s, s)
			c.MatchProcess(goos, baseName(s), "/"+s+"/")
		}
	})
}
