// Package dist builds what IT deploys: .deb and .rpm packages of the agent
// and the collector for Linux, tar.gz (macOS) and zip (Windows) archives of
// the agent with their service definitions, and a SHA256SUMS file. Every
// output is a function of the sources, the version and one timestamp (the
// last commit's), so two builds of one commit are byte-identical.
package dist

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/flate"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/goreleaser/nfpm/v2"
	_ "github.com/goreleaser/nfpm/v2/deb" // registers the deb packager
	"github.com/goreleaser/nfpm/v2/files"
	_ "github.com/goreleaser/nfpm/v2/rpm" // registers the rpm packager

	"github.com/farmwatch/farmwatch/internal/release"
)

// Platforms are the targets of a full build.
var Platforms = []string{"linux/amd64", "linux/arm64", "darwin/amd64", "darwin/arm64", "windows/amd64", "windows/arm64"}

// Formats: deb and rpm for Linux, archive (tar.gz or zip) for macOS and Windows.
var Formats = []string{"deb", "rpm", "archive"}

const module = "github.com/farmwatch/farmwatch"

// Options say what to build from where.
type Options struct {
	Root       string    // repository root
	Out        string    // output directory (created; existing outputs are replaced)
	Version    string    // as `git describe` prints it
	Epoch      time.Time // every timestamp in every output
	Platforms  []string  // GOOS/GOARCH; default Platforms
	Formats    []string  // default Formats
	Maintainer string    // deb/rpm maintainer
	// BinDir, when set, holds prebuilt binaries as BinDir/GOOS_GOARCH/NAME
	// (tests); otherwise Build compiles them.
	BinDir string
	// Docs, when set, holds prebuilt man pages and completions as Docs/NAME/{man1,completions}
	// (tests); otherwise Build generates them from the commands.
	Docs string
	// Signing: an OpenPGP secret key (armored or binary) signs every .deb and .rpm when set.
	Signing Signing
	Go      string // go command (default "go")
	Log     io.Writer
}

// Signing is the OpenPGP key the .deb and .rpm packages are signed with.
type Signing struct {
	KeyFile    string
	Passphrase string
	KeyID      string // optional: which key of KeyFile signs
}

// Build writes the packages, archives and SHA256SUMS into o.Out.
func Build(o Options) error {
	if len(o.Platforms) == 0 {
		o.Platforms = Platforms
	}
	if len(o.Formats) == 0 {
		o.Formats = Formats
	}
	if o.Go == "" {
		o.Go = "go"
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	if o.Maintainer == "" {
		o.Maintainer = "farmwatch <packages@farmwatch.example>"
	}
	o.Epoch = o.Epoch.UTC()
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "farmwatch-dist-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	binDir := o.BinDir
	if binDir == "" {
		binDir = filepath.Join(tmp, "bin")
	}
	sbomTool, err := o.sbomTool(tmp)
	if err != nil {
		return err
	}
	docs := o.Docs
	if docs == "" {
		docs = filepath.Join(tmp, "docs")
		for _, c := range []string{"farmwatch-agent", "farmwatch"} {
			if err := o.cliDocs(c, filepath.Join(docs, c)); err != nil {
				return err
			}
		}
	}
	var outputs []string
	for _, p := range o.Platforms {
		goos, goarch, ok := strings.Cut(p, "/")
		if !ok {
			return fmt.Errorf("platform %q: want GOOS/GOARCH", p)
		}
		cmds := []string{"farmwatch-agent"}
		if goos == "linux" {
			cmds = append(cmds, "farmwatch")
		}
		for _, c := range cmds {
			if o.BinDir == "" {
				if err := o.compile(binDir, goos, goarch, c); err != nil {
					return err
				}
			}
		}
		dir := filepath.Join(binDir, goos+"_"+goarch)
		switch goos {
		case "linux":
			for _, format := range []string{"deb", "rpm"} {
				if !slices.Contains(o.Formats, format) {
					continue
				}
				pkgs, err := linuxPackages(o, dir, docs)
				if err != nil {
					return err
				}
				for _, pkg := range pkgs {
					name, err := o.nfpmPackage(pkg, goarch, format)
					if err != nil {
						return fmt.Errorf("%s %s/%s: %w", format, pkg.name, goarch, err)
					}
					sbom, err := o.sbom(sbomTool, filepath.Join(dir, pkg.name), name)
					if err != nil {
						return err
					}
					outputs = append(outputs, name, sbom)
				}
			}
		case "darwin", "windows":
			if !slices.Contains(o.Formats, "archive") {
				continue
			}
			name, err := o.archive(dir, docs, goos, goarch)
			if err != nil {
				return fmt.Errorf("archive %s/%s: %w", goos, goarch, err)
			}
			sbom, err := o.sbom(sbomTool, filepath.Join(dir, exeName(goos, "farmwatch-agent")), name)
			if err != nil {
				return err
			}
			outputs = append(outputs, name, sbom)
		default:
			return fmt.Errorf("platform %q: no packages for %s", p, goos)
		}
	}
	return writeSums(o.Out, outputs)
}

// PackageVersion turns `git describe` output into a version deb and rpm
// accept: no leading "v", starts with a digit, no "-" (it separates the
// release). "v1.2.0-3-gabc1234-dirty" -> "1.2.0+3.gabc1234.dirty";
// "abc1234" (no tag yet) -> "0.0.0+git.abc1234".
func PackageVersion(v string) string {
	v = strings.TrimPrefix(v, "v")
	if !releaseVersion.MatchString(v) {
		v = "0.0.0+git." + v
	}
	if i := strings.IndexByte(v, '-'); i >= 0 && !strings.Contains(v, "+") {
		v = v[:i] + "+" + v[i+1:]
	}
	return strings.ReplaceAll(v, "-", ".")
}

var releaseVersion = regexp.MustCompile(`^[0-9]+\.[0-9]+`)

func (o Options) compile(binDir, goos, goarch, cmd string) error {
	out := filepath.Join(binDir, goos+"_"+goarch, exeName(goos, cmd))
	args := []string{"build", "-trimpath", "-buildvcs=false", "-tags", release.Tags,
		"-ldflags", "-s -w -buildid= -X " + module + "/agent/collect.Version=" + o.Version + " -X main.version=" + o.Version,
		"-o", out, "./cmd/" + cmd}
	fmt.Fprintf(o.Log, "build %s/%s %s\n", goos, goarch, cmd)
	c := exec.Command(o.Go, args...)
	c.Dir = o.Root
	c.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+goos, "GOARCH="+goarch)
	c.Stdout, c.Stderr = o.Log, os.Stderr
	if err := c.Run(); err != nil {
		return fmt.Errorf("go build %s for %s/%s: %w", cmd, goos, goarch, err)
	}
	return nil
}

func exeName(goos, cmd string) string {
	if goos == "windows" {
		return cmd + ".exe"
	}
	return cmd
}

// linuxPackage is one .deb/.rpm: its files and maintainer scripts.
type linuxPackage struct {
	name, description string
	contents          files.Contents
	scripts           string // directory of postinst, prerm, postrm
	debDepends        []string
	rpmDepends        []string
}

func linuxPackages(o Options, bin, docs string) ([]linuxPackage, error) {
	root := func(p string) string { return filepath.Join(o.Root, filepath.FromSlash(p)) }
	file := func(src, dst string, mode os.FileMode) *files.Content {
		return &files.Content{Source: src, Destination: dst,
			FileInfo: &files.ContentFileInfo{Owner: "root", Group: "root", Mode: mode, MTime: o.Epoch}}
	}
	pkgs := []linuxPackage{{
		name: "farmwatch-agent",
		description: "farmwatch onboarding agent\n" +
			"Reports laptop-farm signals of a newly issued laptop (network, remote-access tools,\n" +
			"peripherals, locale) to the company's farmwatch collector during onboarding.\n" +
			"Run `farmwatch-agent collect --json` to see exactly what it sends.",
		contents: files.Contents{
			file(filepath.Join(bin, "farmwatch-agent"), "/usr/bin/farmwatch-agent", 0o755),
			file(root("packaging/linux/farmwatch-agent.service"), "/usr/lib/systemd/system/farmwatch-agent.service", 0o644),
			file(root("packaging/agent.json.example"), "/usr/share/doc/farmwatch-agent/agent.json.example", 0o644),
			file(root("docs/DEPLOY.md"), "/usr/share/doc/farmwatch-agent/DEPLOY.md", 0o644),
		},
		scripts: root("packaging/linux/agent"),
	}, {
		name: "farmwatch",
		description: "farmwatch collector and command line\n" +
			"Receives reports of farmwatch agents over gRPC with mutual TLS, stores them and raises\n" +
			"laptop-farm alerts; the farmwatch command line for reviewers and IT.",
		contents: files.Contents{
			file(filepath.Join(bin, "farmwatch"), "/usr/bin/farmwatch", 0o755),
			file(root("packaging/linux/farmwatch.service"), "/usr/lib/systemd/system/farmwatch.service", 0o644),
			{Source: root("packaging/linux/farmwatch.default"), Destination: "/etc/default/farmwatch", Type: files.TypeConfigNoReplace,
				FileInfo: &files.ContentFileInfo{Owner: "root", Group: "root", Mode: 0o644, MTime: o.Epoch}},
			file(root("docs/DEPLOY.md"), "/usr/share/doc/farmwatch/DEPLOY.md", 0o644),
			// The data notices (DB-IP, GeoNames, OpenStreetMap) whose licences ask to travel with the binary.
			file(root("NOTICE"), "/usr/share/doc/farmwatch/copyright", 0o644),
		},
		scripts:    root("packaging/linux/collector"),
		debDepends: []string{"passwd"},
		rpmDepends: []string{"shadow-utils"},
	}}
	for i := range pkgs {
		c, err := o.docContents(docs, pkgs[i].name)
		if err != nil {
			return nil, err
		}
		pkgs[i].contents = append(pkgs[i].contents, c...)
	}
	return pkgs, nil
}

func (o Options) nfpmPackage(p linuxPackage, goarch, format string) (string, error) {
	contents := make(files.Contents, len(p.contents))
	for i, c := range p.contents { // PrepareForPackager rewrites them: one copy per format
		cc := *c
		fi := *c.FileInfo
		cc.FileInfo = &fi
		contents[i] = &cc
	}
	info := &nfpm.Info{
		Name: p.name, Arch: goarch, Platform: "linux",
		Version: PackageVersion(o.Version), VersionSchema: "none", Release: "1",
		Section: "admin", Priority: "optional",
		Maintainer: o.Maintainer, Vendor: "farmwatch", Description: p.description,
		Homepage: "https://" + module, License: "Proprietary",
		MTime: o.Epoch,
		Overridables: nfpm.Overridables{
			Contents: contents,
			Scripts: nfpm.Scripts{
				PostInstall: filepath.Join(p.scripts, "postinst"),
				PreRemove:   filepath.Join(p.scripts, "prerm"),
				PostRemove:  filepath.Join(p.scripts, "postrm"),
			},
		},
	}
	if format == "deb" {
		info.Depends = p.debDepends
	} else {
		info.Depends = p.rpmDepends
	}
	info.RPM.BuildHost = "farmwatch" // not this machine's name: builds must not depend on where they ran
	if k := o.Signing; k.KeyFile != "" {
		sig := nfpm.PackageSignature{KeyFile: k.KeyFile, KeyPassphrase: k.Passphrase}
		if k.KeyID != "" {
			sig.KeyID = &k.KeyID
		}
		// debsign's _gpgorigin member: a detached signature over debian-binary, control and data.
		info.Deb.Signature = nfpm.DebSignature{PackageSignature: sig, Method: "debsign", Type: "origin"}
		info.RPM.Signature = nfpm.RPMSignature{PackageSignature: sig}
	}
	info.RPM.Group = "System Environment/Daemons"
	info = nfpm.WithDefaults(info)
	if err := nfpm.PrepareForPackager(info, format); err != nil {
		return "", err
	}
	packager, err := nfpm.Get(format)
	if err != nil {
		return "", err
	}
	name := packager.ConventionalFileName(info)
	var buf bytes.Buffer
	if err := packager.Package(info, &buf); err != nil {
		return "", err
	}
	return name, os.WriteFile(filepath.Join(o.Out, name), buf.Bytes(), 0o644)
}

// archiveEntry is one file of a darwin or windows archive.
type archiveEntry struct {
	name string // path inside the archive's top directory, slash-separated
	src  string
	mode os.FileMode
}

// ArchiveEntries lists what the agent archive of goos holds, besides the
// binary.
func archiveEntries(o Options, bin, docs, goos string) ([]archiveEntry, error) {
	root := func(p string) string { return filepath.Join(o.Root, filepath.FromSlash(p)) }
	common := []archiveEntry{
		{"agent.json.example", root("packaging/agent.json.example"), 0o644},
		{"DEPLOY.md", root("docs/DEPLOY.md"), 0o644},
	}
	switch goos {
	case "darwin":
		// Man pages and completions for IT to copy to /usr/local/share (build-pkg.sh installs them).
		dfs, err := docFiles(docs, "farmwatch-agent")
		if err != nil {
			return nil, err
		}
		for _, f := range dfs {
			if f.archive == "" {
				continue
			}
			common = append(common, archiveEntry{f.archive, f.archiveSrc, 0o644})
		}
		return append(common,
			archiveEntry{"farmwatch-agent", filepath.Join(bin, "farmwatch-agent"), 0o755},
			archiveEntry{"com.farmwatch.agent.plist", root("packaging/darwin/com.farmwatch.agent.plist"), 0o644},
			archiveEntry{"farmwatch.mobileconfig", root("packaging/darwin/farmwatch.mobileconfig"), 0o644},
			archiveEntry{"build-pkg.sh", root("packaging/darwin/build-pkg.sh"), 0o755},
			archiveEntry{"uninstall.sh", root("packaging/darwin/uninstall.sh"), 0o755},
			archiveEntry{"scripts/preinstall", root("packaging/darwin/scripts/preinstall"), 0o755},
			archiveEntry{"scripts/postinstall", root("packaging/darwin/scripts/postinstall"), 0o755},
		), nil
	default:
		return append(common,
			archiveEntry{"farmwatch-agent.exe", filepath.Join(bin, "farmwatch-agent.exe"), 0o755},
			archiveEntry{"farmwatch-agent.wxs", root("packaging/windows/farmwatch-agent.wxs"), 0o644},
			archiveEntry{"install.ps1", root("packaging/windows/install.ps1"), 0o644},
		), nil
	}
}

// ArchiveName is the file name of the agent archive for goos/goarch.
func ArchiveName(version, goos, goarch string) string {
	base := fmt.Sprintf("farmwatch-agent_%s_%s_%s", PackageVersion(version), goos, goarch)
	if goos == "windows" {
		return base + ".zip"
	}
	return base + ".tar.gz"
}

// archive writes a tar.gz or zip with sorted entries under one top
// directory, fixed modes, root ownership and the epoch as every mtime.
func (o Options) archive(bin, docs, goos, goarch string) (string, error) {
	name := ArchiveName(o.Version, goos, goarch)
	top := strings.TrimSuffix(strings.TrimSuffix(name, ".zip"), ".tar.gz")
	entries, err := archiveEntries(o, bin, docs, goos)
	if err != nil {
		return "", err
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].name < entries[j].name })
	dirs := map[string]bool{top + "/": true}
	for _, e := range entries {
		for d := path.Dir(e.name); d != "."; d = path.Dir(d) {
			dirs[top+"/"+d+"/"] = true
		}
	}
	type item struct {
		name string
		data []byte
		mode os.FileMode
		dir  bool
	}
	var items []item
	for d := range dirs {
		items = append(items, item{name: d, mode: 0o755, dir: true})
	}
	for _, e := range entries {
		b, err := os.ReadFile(e.src)
		if err != nil {
			return "", err
		}
		items = append(items, item{name: top + "/" + e.name, data: b, mode: e.mode})
	}
	sort.Slice(items, func(i, j int) bool { return items[i].name < items[j].name })

	var buf bytes.Buffer
	if goos == "windows" {
		zw := zip.NewWriter(&buf)
		for _, it := range items {
			h := &zip.FileHeader{Name: it.name, Method: zip.Deflate, Modified: o.Epoch}
			if it.dir {
				h.Method = zip.Store
				h.SetMode(os.ModeDir | it.mode)
			} else {
				h.SetMode(it.mode)
			}
			w, err := zw.CreateHeader(h)
			if err != nil {
				return "", err
			}
			if _, err := w.Write(it.data); err != nil {
				return "", err
			}
		}
		if err := zw.Close(); err != nil {
			return "", err
		}
	} else {
		gz, err := gzip.NewWriterLevel(&buf, flate.BestCompression)
		if err != nil {
			return "", err
		}
		// The gzip header's ModTime stays zero and its Name empty.
		tw := tar.NewWriter(gz)
		for _, it := range items {
			h := &tar.Header{Name: it.name, Mode: int64(it.mode), ModTime: o.Epoch,
				Uname: "root", Gname: "wheel", Format: tar.FormatPAX}
			if it.dir {
				h.Typeflag = tar.TypeDir
			} else {
				h.Typeflag, h.Size = tar.TypeReg, int64(len(it.data))
			}
			if err := tw.WriteHeader(h); err != nil {
				return "", err
			}
			if _, err := tw.Write(it.data); err != nil {
				return "", err
			}
		}
		if err := tw.Close(); err != nil {
			return "", err
		}
		if err := gz.Close(); err != nil {
			return "", err
		}
	}
	return name, os.WriteFile(filepath.Join(o.Out, name), buf.Bytes(), 0o644)
}

// writeSums writes SHA256SUMS (the sha256sum format) for the named files.
func writeSums(dir string, names []string) error {
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		data, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		fmt.Fprintf(&b, "%s  %s\n", hex.EncodeToString(sum[:]), n)
	}
	return os.WriteFile(filepath.Join(dir, "SHA256SUMS"), []byte(b.String()), 0o644)
}
