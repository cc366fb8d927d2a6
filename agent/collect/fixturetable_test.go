package collect

import (
	"bufio"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// fixtureTable reads the first column of testdata/README.md's table: the
// fixture files, and the fixture roots (directory trees, with a trailing
// slash) whose files the row covers.
func fixtureTable(t *testing.T) (files, roots map[string]bool) {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	files, roots = map[string]bool{}, map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(line, "|") {
			continue
		}
		cells := strings.Split(line, "|")
		if len(cells) < 3 {
			continue
		}
		name := strings.Trim(strings.TrimSpace(cells[1]), "`")
		if name == "" || name == "fixture" || strings.Trim(name, "-: ") == "" {
			continue // the header and its separator
		}
		if strings.HasSuffix(name, "/") {
			roots[name] = true
		} else {
			files[name] = true
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return files, roots
}

// TestFixtureTable keeps testdata/README.md's table and the fixtures
// together: every file under testdata/{linux,darwin,windows} (notes in .md
// aside) is a row or lies under a root that is one, and every row names a
// file or a directory that exists.
func TestFixtureTable(t *testing.T) {
	files, roots := fixtureTable(t)
	if len(files)+len(roots) == 0 {
		t.Fatal("testdata/README.md has no table rows")
	}
	for name := range files {
		if fi, err := os.Lstat(filepath.Join("testdata", filepath.FromSlash(name))); err != nil || fi.IsDir() {
			t.Errorf("testdata/README.md names %s, which is not a fixture file", name)
		}
	}
	for root := range roots {
		if fi, err := os.Stat(filepath.Join("testdata", filepath.FromSlash(root))); err != nil || !fi.IsDir() {
			t.Errorf("testdata/README.md names the root %s, which is not a directory", root)
		}
	}
	covered := func(rel string) bool {
		if files[rel] {
			return true
		}
		for root := range roots {
			if strings.HasPrefix(rel, root) {
				return true
			}
		}
		return false
	}
	var missing []string
	for _, osDir := range []string{"linux", "darwin", "windows"} {
		err := filepath.WalkDir(filepath.Join("testdata", osDir), func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || strings.HasSuffix(d.Name(), ".md") {
				return err
			}
			rel, err := filepath.Rel("testdata", p)
			if err != nil {
				return err
			}
			if rel = filepath.ToSlash(rel); !covered(rel) {
				missing = append(missing, rel)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	sort.Strings(missing)
	for _, m := range missing {
		t.Errorf("fixture %s has no row in testdata/README.md", m)
	}
}
