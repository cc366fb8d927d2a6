package dist

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"os"
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
		"github.com/klauspost/compress", "github.com/nyaruka/phonenumbers", "github.com/oschwald/geoip2-golang/v2",
		"github.com/oschwald/maxminddb-golang/v2",
		"github.com/pires/go-proxyproto", "github.com/ringsaturn/tzf-rel-lite", "github.com/shirou/gopsutil/v4",
		"github.com/spf13/cobra", "github.com/spf13/pflag", "github.com/tidwall/geojson", "github.com/twpayne/go-polyline",
		"go.etcd.io/bbolt", "go.yaml.in/yaml/v3", "golang.org/x/net", "golang.org/x/sys", "golang.org/x/text",
		"golang.org/x/time", "google.golang.org/genproto/googleapis/rpc", "google.golang.org/grpc",
		"google.golang.org/protobuf", "gopkg.in/natefinch/lumberjack.v2",
		// --metrics-listen: the Prometheus client, its data model and text format, and their
		// dependencies (quantile streams, hashing, content negotiation, /proc for process metrics).
		"github.com/prometheus/client_golang", "github.com/prometheus/client_model", "github.com/prometheus/common",
		"github.com/prometheus/procfs", "github.com/beorn7/perks", "github.com/cespare/xxhash/v2",
		"github.com/munnerz/goautoneg",
		// The store on PostgreSQL: the pgx driver, its connection pool (puddle, with x/sync's
		// semaphore) and its readers of ~/.pgpass and pg_service.conf.
		"github.com/jackc/pgx/v5", "github.com/jackc/puddle/v2", "github.com/jackc/pgpassfile",
		"github.com/jackc/pgservicefile", "golang.org/x/sync",
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

// TestShippedArtefacts builds the packages from real binaries, compiled as the packages compile them,
// and checks three things per artefact: the binary links only the modules shippedModules allows (what
// `go version -m` prints), an SBOM lies beside the artefact and lists exactly those modules, and the
// man pages and completions generated from the command tree are in it.
func TestShippedArtefacts(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles the agent and the collector")
	}
	o := Options{Root: "../../..", Version: "v0.0.0-test", Go: "go", Log: io.Discard, Epoch: epoch,
		BinDir: t.TempDir(), Out: t.TempDir(),
		Platforms: []string{"linux/amd64", "darwin/arm64", "windows/amd64"}, Formats: []string{"deb", "archive"}}
	artefacts := map[string]string{} // artefact -> the binary it ships
	for _, b := range []struct{ goos, goarch, cmd, artefact string }{
		{"linux", "amd64", "farmwatch", "farmwatch_0.0.0+test-1_amd64.deb"},
		{"linux", "amd64", "farmwatch-agent", "farmwatch-agent_0.0.0+test-1_amd64.deb"},
		{"darwin", "arm64", "farmwatch-agent", ArchiveName(o.Version, "darwin", "arm64")},
		{"windows", "amd64", "farmwatch-agent", ArchiveName(o.Version, "windows", "amd64")},
	} {
		if err := o.compile(o.BinDir, b.goos, b.goarch, b.cmd); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(o.BinDir, b.goos+"_"+b.goarch, exeName(b.goos, b.cmd))
		artefacts[b.artefact] = path
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
	if err := Build(o); err != nil {
		t.Fatal(err)
	}

	sums, err := os.ReadFile(filepath.Join(o.Out, "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	for artefact, binary := range artefacts {
		if !strings.Contains(string(sums), "  "+artefact+"\n") || !strings.Contains(string(sums), "  "+artefact+SBOMSuffix+"\n") {
			t.Errorf("SHA256SUMS lacks %s or its SBOM:\n%s", artefact, sums)
			continue
		}
		mods, _ := BinaryModules(binary)
		var want []string
		for _, m := range mods {
			want = append(want, m.Path+"@"+m.Version)
		}
		got := sbomModules(t, filepath.Join(o.Out, artefact+SBOMSuffix))
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("SBOM of %s lists\n  %v\ngo version -m of its binary lists\n  %v", artefact, got, want)
		}
	}

	collector := debFiles(t, filepath.Join(o.Out, "farmwatch_0.0.0+test-1_amd64.deb"))
	for name, want := range map[string]string{
		"./usr/share/man/man1/farmwatch.1.gz":                  "farmwatch",
		"./usr/share/man/man1/farmwatch-serve.1.gz":            "--listen",
		"./usr/share/bash-completion/completions/farmwatch":    "__complete",
		"./usr/share/zsh/vendor-completions/_farmwatch":        "#compdef farmwatch",
		"./usr/share/fish/vendor_completions.d/farmwatch.fish": "complete -c farmwatch",
	} {
		data, ok := collector[name]
		if !ok {
			t.Errorf("collector .deb lacks %s", name)
			continue
		}
		if !strings.Contains(data, want) {
			t.Errorf("%s does not mention %q", name, want)
		}
	}
	agent := debFiles(t, filepath.Join(o.Out, "farmwatch-agent_0.0.0+test-1_amd64.deb"))
	if !strings.Contains(agent["./usr/share/man/man1/farmwatch-agent-collect.1.gz"], "--json") {
		t.Errorf("agent .deb lacks the man page of collect, with --json")
	}
}

// sbomModules lists the components of a CycloneDX SBOM as path@version, sorted.
func sbomModules(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var bom struct {
		BOMFormat  string `json:"bomFormat"`
		Components []struct {
			Name, Version, Purl string
		} `json:"components"`
	}
	if err := json.Unmarshal(b, &bom); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if bom.BOMFormat != "CycloneDX" {
		t.Errorf("%s: bomFormat %q", path, bom.BOMFormat)
	}
	var mods []string
	for _, c := range bom.Components {
		if !strings.HasPrefix(c.Purl, "pkg:golang/") {
			continue // the Go toolchain itself, listed as a component as well
		}
		mods = append(mods, c.Name+"@"+c.Version)
	}
	slices.Sort(mods)
	return mods
}

// debFiles reads the files of a .deb's data.tar.gz, man pages uncompressed.
func debFiles(t *testing.T, path string) map[string]string {
	t.Helper()
	gz, err := gzip.NewReader(bytes.NewReader(arMembers(t, path)["data.tar.gz"]))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		if strings.HasSuffix(h.Name, ".gz") {
			if zr, err := gzip.NewReader(bytes.NewReader(b)); err == nil {
				b, _ = io.ReadAll(zr)
			}
		}
		files[h.Name] = string(b)
	}
	return files
}
