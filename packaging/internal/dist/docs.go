package dist

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/goreleaser/nfpm/v2/files"
)

// The docs build adds this file to the command's package main: it writes the man pages and completions
// of the command's own tree (newRoot) and exits, so the pages document exactly the shipped flags.
const docsMain = `package main

import "github.com/farmwatch/farmwatch/packaging/clidocs"

func init() { clidocs.Main(newRoot()) }
`

// cliDocs writes the man pages (plain and gzipped, in man1/) and completions of cmd into dir, from a build of
// cmd for this machine with packaging/clidocs linked in through -overlay.
func (o Options) cliDocs(cmd, dir string) error {
	tmp, err := os.MkdirTemp("", "farmwatch-docs-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	root, err := filepath.Abs(o.Root)
	if err != nil {
		return err
	}
	src := filepath.Join(tmp, "clidocs_main.go")
	if err := os.WriteFile(src, []byte(docsMain), 0o644); err != nil {
		return err
	}
	overlay, err := json.Marshal(map[string]map[string]string{
		"Replace": {filepath.Join(root, "cmd", cmd, "zz_clidocs_overlay.go"): src}})
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(tmp, "overlay.json"), overlay, 0o644); err != nil {
		return err
	}
	bin := filepath.Join(tmp, cmd+"-docs")
	fmt.Fprintf(o.Log, "docs %s\n", cmd)
	// Built from the packaging module, which requires cobra's doc generator; the product module does not.
	c := exec.Command(o.Go, "build", "-trimpath", "-overlay", filepath.Join(tmp, "overlay.json"), "-o", bin,
		module+"/cmd/"+cmd)
	c.Dir = filepath.Join(root, "packaging")
	c.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=", "GOARCH=")
	c.Stdout, c.Stderr = o.Log, os.Stderr
	if err := c.Run(); err != nil {
		return fmt.Errorf("docs build of %s: %w", cmd, err)
	}
	raw := filepath.Join(tmp, "out")
	run := exec.Command(bin, raw, strconv.FormatInt(o.Epoch.Unix(), 10), cmd+" "+PackageVersion(o.Version))
	if out, err := run.CombinedOutput(); err != nil {
		return fmt.Errorf("docs of %s: %w\n%s", cmd, err, out)
	}
	pages, err := filepath.Glob(filepath.Join(raw, "man1", "*.1"))
	if err != nil || len(pages) == 0 {
		return fmt.Errorf("docs of %s: no man pages", cmd)
	}
	if err := os.MkdirAll(filepath.Join(dir, "man1"), 0o755); err != nil {
		return err
	}
	for _, p := range pages {
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		gz, err := gzipBytes(b)
		if err != nil {
			return err
		}
		// Linux packages ship pages gzipped (Debian policy); the darwin archive plain.
		if err := os.WriteFile(filepath.Join(dir, "man1", filepath.Base(p)+".gz"), gz, 0o644); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, "man1", filepath.Base(p)), b, 0o644); err != nil {
			return err
		}
	}
	return os.Rename(filepath.Join(raw, "completions"), filepath.Join(dir, "completions"))
}

// gzipBytes compresses as `gzip -9n` does: no name, no time in the header.
func gzipBytes(b []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, flate.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(b); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// docFile is one man page or completion script of a command, and where a package installs it.
type docFile struct {
	src        string
	dst        string // absolute path on Linux
	archive    string // path inside the darwin archive ("" when not there)
	archiveSrc string // what the archive holds: src, or the man page uncompressed
	packager   string // "" for every format, else deb or rpm only
}

// docFiles lists the generated docs of cmd under docs/CMD: man pages for man(1), completions where
// bash-completion, zsh (Debian's vendor-completions, Fedora's site-functions) and fish look for them.
func docFiles(docs, cmd string) ([]docFile, error) {
	dir := filepath.Join(docs, cmd)
	pages, err := filepath.Glob(filepath.Join(dir, "man1", "*.1.gz"))
	if err != nil {
		return nil, err
	}
	if len(pages) == 0 {
		return nil, fmt.Errorf("no man pages of %s in %s", cmd, dir)
	}
	sort.Strings(pages)
	var out []docFile
	for _, p := range pages {
		name := filepath.Base(p)
		out = append(out, docFile{src: p, dst: "/usr/share/man/man1/" + name,
			archive: "man/man1/" + strings.TrimSuffix(name, ".gz"), archiveSrc: strings.TrimSuffix(p, ".gz")})
	}
	comp := filepath.Join(dir, "completions")
	out = append(out,
		docFile{src: filepath.Join(comp, cmd+".bash"), dst: "/usr/share/bash-completion/completions/" + cmd,
			archive: "completions/" + cmd + ".bash"},
		docFile{src: filepath.Join(comp, "_"+cmd), dst: "/usr/share/zsh/vendor-completions/_" + cmd,
			archive: "completions/_" + cmd, packager: "deb"},
		docFile{src: filepath.Join(comp, "_"+cmd), dst: "/usr/share/zsh/site-functions/_" + cmd, packager: "rpm"},
		docFile{src: filepath.Join(comp, cmd+".fish"), dst: "/usr/share/fish/vendor_completions.d/" + cmd + ".fish",
			archive: "completions/" + cmd + ".fish"},
	)
	for i, f := range out {
		if f.archive != "" && f.archiveSrc == "" {
			out[i].archiveSrc = f.src
		}
		for _, p := range []string{f.src, out[i].archiveSrc} {
			if p == "" {
				continue
			}
			if _, err := os.Stat(p); err != nil {
				return nil, fmt.Errorf("docs of %s: %w", cmd, err)
			}
		}
	}
	return out, nil
}

// docContents are the nfpm contents of cmd's docs.
func (o Options) docContents(docs, cmd string) (files.Contents, error) {
	dfs, err := docFiles(docs, cmd)
	if err != nil {
		return nil, err
	}
	var c files.Contents
	for _, f := range dfs {
		c = append(c, &files.Content{Source: f.src, Destination: f.dst, Packager: f.packager,
			FileInfo: &files.ContentFileInfo{Owner: "root", Group: "root", Mode: 0o644, MTime: o.Epoch}})
	}
	return c, nil
}
