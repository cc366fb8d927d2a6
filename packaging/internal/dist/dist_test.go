package dist

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

var epoch = time.Unix(1767225600, 0).UTC() // 2026-01-01

// fakeBinaries writes stand-ins for the compiled binaries: the packaging,
// not the compiler, is under test here. Each is one small Go program (so
// it carries a module list for its SBOM) with its own name appended, and
// docs/ holds stand-in man pages and completions.
func fakeBinariesIn(t *testing.T, dir string) string {
	t.Helper()
	src := filepath.Join(dir, "stand_in.go")
	if err := os.WriteFile(src, []byte("package main\n\nfunc main() {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	prog := filepath.Join(dir, "stand-in")
	if out, err := exec.Command("go", "build", "-trimpath", "-o", prog, src).CombinedOutput(); err != nil {
		t.Fatalf("go build stand-in: %v\n%s", err, out)
	}
	elf, err := os.ReadFile(prog)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"linux_amd64/farmwatch-agent", "linux_amd64/farmwatch",
		"darwin_arm64/farmwatch-agent", "windows_amd64/farmwatch-agent.exe"} {
		path := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, append(slices.Clip(elf), "binary "+p...), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []string{"farmwatch-agent", "farmwatch"} {
		for name, data := range map[string]string{
			"man1/" + c + ".1": "man page " + c, "man1/" + c + "-x.1": "man page " + c + "-x",
			"completions/" + c + ".bash": "bash " + c, "completions/_" + c: "zsh " + c,
			"completions/" + c + ".fish": "fish " + c,
		} {
			path := filepath.Join(dir, "docs", c, filepath.FromSlash(name))
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
				t.Fatal(err)
			}
			if strings.HasSuffix(name, ".1") {
				gz, err := gzipBytes([]byte(data))
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path+".gz", gz, 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	return dir
}

func build(t *testing.T, bin string) string {
	t.Helper()
	out, err := os.MkdirTemp(bin, "out-")
	if err != nil {
		t.Fatal(err)
	}
	err = Build(Options{Root: "../../..", Out: out, Version: "v1.2.0-3-gabc1234", Epoch: epoch, BinDir: bin, Docs: filepath.Join(bin, "docs"),
		Platforms: []string{"linux/amd64", "darwin/arm64", "windows/amd64"}})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// shared is one build of the stand-ins that the archive tests read (a build takes a while: it
// compiles the SBOM tool and runs it per artefact).
var shared struct {
	once     sync.Once
	bin, out string
}

func sharedBuild(t *testing.T) string {
	shared.once.Do(func() {
		var err error
		if shared.bin, err = os.MkdirTemp("", "farmwatch-dist-test-"); err != nil {
			t.Fatal(err)
		}
		shared.bin = fakeBinariesIn(t, shared.bin)
		shared.out = build(t, shared.bin)
	})
	if shared.out == "" {
		t.Fatal("the shared build failed")
	}
	return shared.out
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.bin != "" {
		os.RemoveAll(shared.bin)
	}
	os.Exit(code)
}

func TestBuildIsReproducible(t *testing.T) {
	a := sharedBuild(t)
	b := build(t, shared.bin)
	sa, _ := os.ReadFile(filepath.Join(a, "SHA256SUMS"))
	sb, _ := os.ReadFile(filepath.Join(b, "SHA256SUMS"))
	if !bytes.Equal(sa, sb) {
		t.Errorf("two builds differ:\n%s\n%s", sa, sb)
	}
	for _, want := range []string{
		"farmwatch-agent_1.2.0+3.gabc1234-1_amd64.deb", "farmwatch_1.2.0+3.gabc1234-1_amd64.deb",
		"farmwatch-agent-1.2.0+3.gabc1234-1.x86_64.rpm", "farmwatch-1.2.0+3.gabc1234-1.x86_64.rpm",
		"farmwatch-agent_1.2.0+3.gabc1234_darwin_arm64.tar.gz", "farmwatch-agent_1.2.0+3.gabc1234_windows_amd64.zip",
	} {
		if !strings.Contains(string(sa), "  "+want+"\n") {
			t.Errorf("SHA256SUMS lacks %s:\n%s", want, sa)
		}
	}
}

type entry struct {
	mode  os.FileMode
	mtime time.Time
	data  string
}

func TestDarwinArchive(t *testing.T) {
	out := sharedBuild(t)
	f, err := os.Open(filepath.Join(out, ArchiveName("v1.2.0-3-gabc1234", "darwin", "arm64")))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	if !gz.ModTime.IsZero() || gz.Name != "" {
		t.Errorf("gzip header carries time %v or name %q", gz.ModTime, gz.Name)
	}
	got := map[string]entry{}
	var names []string
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
		if h.Uid != 0 || h.Gid != 0 {
			t.Errorf("%s: owner %d:%d", h.Name, h.Uid, h.Gid)
		}
		names = append(names, h.Name)
		got[strings.TrimPrefix(h.Name, "farmwatch-agent_1.2.0+3.gabc1234_darwin_arm64/")] = entry{os.FileMode(h.Mode).Perm(), h.ModTime, string(b)}
	}
	checkEntries(t, names, got, map[string]os.FileMode{
		"farmwatch-agent":                  0o755,
		"com.farmwatch.agent.plist":        0o644,
		"farmwatch.mobileconfig":           0o644,
		"build-pkg.sh":                     0o755,
		"scripts/preinstall":               0o755,
		"scripts/postinstall":              0o755,
		"uninstall.sh":                     0o755,
		"agent.json.example":               0o644,
		"DEPLOY.md":                        0o644,
		"man/man1/farmwatch-agent.1":       0o644,
		"man/man1/farmwatch-agent-x.1":     0o644,
		"completions/farmwatch-agent.bash": 0o644,
		"completions/_farmwatch-agent":     0o644,
		"completions/farmwatch-agent.fish": 0o644,
	}, "binary darwin_arm64/farmwatch-agent")
	if got["man/man1/farmwatch-agent-x.1"].data != "man page farmwatch-agent-x" {
		t.Errorf("darwin man page is not the plain page: %q", got["man/man1/farmwatch-agent-x.1"].data)
	}
	if !strings.Contains(got["com.farmwatch.agent.plist"].data, "<string>/usr/local/bin/farmwatch-agent</string>") {
		t.Error("launchd plist does not run the installed binary")
	}
}

func TestWindowsArchive(t *testing.T) {
	out := sharedBuild(t)
	zr, err := zip.OpenReader(filepath.Join(out, ArchiveName("v1.2.0-3-gabc1234", "windows", "amd64")))
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	got := map[string]entry{}
	var names []string
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		names = append(names, f.Name)
		got[strings.TrimPrefix(f.Name, "farmwatch-agent_1.2.0+3.gabc1234_windows_amd64/")] = entry{f.Mode().Perm(), f.Modified.UTC(), string(b)}
	}
	checkEntries(t, names, got, map[string]os.FileMode{
		"farmwatch-agent.exe": 0o755,
		"farmwatch-agent.wxs": 0o644,
		"install.ps1":         0o644,
		"agent.json.example":  0o644,
		"DEPLOY.md":           0o644,
	}, "binary windows_amd64/farmwatch-agent.exe")
	if !strings.Contains(got["farmwatch-agent.wxs"].data, `Name="farmwatch-agent"`) {
		t.Error("WiX recipe does not install the farmwatch-agent service")
	}
}

func checkEntries(t *testing.T, names []string, got map[string]entry, want map[string]os.FileMode, binary string) {
	t.Helper()
	for i := 1; i < len(names); i++ {
		if names[i-1] >= names[i] {
			t.Errorf("entries not sorted: %q before %q", names[i-1], names[i])
		}
	}
	for name, mode := range want {
		e, ok := got[name]
		if !ok {
			t.Errorf("archive lacks %s (has %v)", name, names)
			continue
		}
		if e.mode != mode {
			t.Errorf("%s: mode %o, want %o", name, e.mode, mode)
		}
		if !e.mtime.Equal(epoch) {
			t.Errorf("%s: mtime %v, want %v", name, e.mtime, epoch)
		}
	}
	for _, name := range []string{"farmwatch-agent", "farmwatch-agent.exe"} {
		if e, ok := got[name]; ok && !strings.HasSuffix(e.data, binary) {
			t.Errorf("%s does not hold the built binary (%s)", name, binary)
		}
	}
}

func TestPackageVersion(t *testing.T) {
	tests := []struct{ in, want string }{
		{"v1.2.0", "1.2.0"},
		{"1.2.0", "1.2.0"},
		{"v1.2.0-3-gabc1234", "1.2.0+3.gabc1234"},
		{"v1.2.0-3-gabc1234-dirty", "1.2.0+3.gabc1234.dirty"},
		{"abc1234", "0.0.0+git.abc1234"},
		{"8c201ae-dirty", "0.0.0+git.8c201ae.dirty"},
		{"dev", "0.0.0+git.dev"},
	}
	for _, tt := range tests {
		if got := PackageVersion(tt.in); got != tt.want {
			t.Errorf("PackageVersion(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// The collector's package carries the data notices as its Debian copyright file.
func TestCollectorPackageShipsNotice(t *testing.T) {
	if _, err := exec.LookPath("dpkg-deb"); err != nil {
		t.Skip("needs dpkg-deb")
	}
	out := sharedBuild(t)
	x := t.TempDir()
	if b, err := exec.Command("dpkg-deb", "-x", filepath.Join(out, "farmwatch_1.2.0+3.gabc1234-1_amd64.deb"), x).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb: %v\n%s", err, b)
	}
	got, err := os.ReadFile(filepath.Join(x, "usr/share/doc/farmwatch/copyright"))
	if err != nil {
		t.Fatal(err)
	}
	notice, err := os.ReadFile("../../../NOTICE")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, notice) || !strings.Contains(string(got), "IP Geolocation by DB-IP") {
		t.Errorf("copyright is not NOTICE:\n%s", got)
	}
}
