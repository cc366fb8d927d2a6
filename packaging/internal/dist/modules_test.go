package dist

import (
	"io"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// shippedModules is every module a shipped binary may link, per binary and OS. A module that appears
// in a binary without being listed here fails the test: a new dependency of the agent or the collector
// is a decision (its licence, its age, what it pulls in), not a side effect of `go get`.
var shippedModules = map[string][]string{
	"farmwatch": {
		"github.com/klauspost/compress", "github.com/oschwald/geoip2-golang/v2", "github.com/oschwald/maxminddb-golang/v2",
		"github.com/pires/go-proxyproto", "github.com/ringsaturn/tzf-rel-lite", "github.com/shirou/gopsutil/v4",
		"github.com/spf13/cobra", "github.com/spf13/pflag", "github.com/tidwall/geojson", "github.com/twpayne/go-polyline",
		"go.etcd.io/bbolt", "go.yaml.in/yaml/v3", "golang.org/x/net", "golang.org/x/sys", "golang.org/x/text",
		"golang.org/x/time", "google.golang.org/genproto/googleapis/rpc", "google.golang.org/grpc",
		"google.golang.org/protobuf",
	},
	"farmwatch-agent": {
		"github.com/mdlayher/genetlink", "github.com/mdlayher/netlink", "github.com/mdlayher/socket",
		"github.com/mdlayher/wifi", "github.com/shirou/gopsutil/v4", "github.com/spf13/cobra", "github.com/spf13/pflag",
		"github.com/tklauser/go-sysconf", "github.com/tklauser/numcpus", "go.etcd.io/bbolt", "golang.org/x/crypto",
		"golang.org/x/net", "golang.org/x/sync", "golang.org/x/sys", "golang.org/x/text",
		"google.golang.org/genproto/googleapis/rpc", "google.golang.org/grpc", "google.golang.org/protobuf",
		// macOS: gopsutil calls system frameworks without cgo.
		"github.com/ebitengine/purego",
		// Windows: WMI queries and cobra's "started from Explorer" check.
		"github.com/go-ole/go-ole", "github.com/yusufpapurcu/wmi", "github.com/inconshreveable/mousetrap",
	},
}

// TestShippedModules builds the binaries the packages ship, as the packages build them, and checks
// their module list (what `go version -m` prints) against shippedModules.
func TestShippedModules(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles the agent and the collector")
	}
	o := Options{Root: "../../..", Version: "v0.0.0-test", Go: "go", Log: io.Discard}
	bin := t.TempDir()
	for _, b := range []struct{ goos, goarch, cmd string }{
		{"linux", "amd64", "farmwatch"},
		{"linux", "amd64", "farmwatch-agent"},
		{"darwin", "arm64", "farmwatch-agent"},
		{"windows", "amd64", "farmwatch-agent"},
	} {
		if err := o.compile(bin, b.goos, b.goarch, b.cmd); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(bin, b.goos+"_"+b.goarch, exeName(b.goos, b.cmd))
		mods, err := BinaryModules(path)
		if err != nil {
			t.Fatal(err)
		}
		if len(mods) == 0 {
			t.Fatalf("%s: go version -m lists no modules", path)
		}
		var extra []string
		for _, m := range mods {
			if !slices.Contains(shippedModules[b.cmd], m.Path) {
				extra = append(extra, m.Path+"@"+m.Version)
			}
		}
		if len(extra) > 0 {
			t.Errorf("%s for %s/%s links modules it should not: %s", b.cmd, b.goos, b.goarch, strings.Join(extra, ", "))
		}
		t.Logf("%s %s/%s: %d modules", b.cmd, b.goos, b.goarch, len(mods))
	}
}
