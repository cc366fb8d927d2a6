package collect

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	// Zone offsets are asserted against tzdata; embedding it keeps the tests
	// independent of the machine's zoneinfo.
	_ "time/tzdata"
)

var (
	january = time.Date(2026, time.January, 15, 18, 0, 0, 0, time.UTC)
	july    = time.Date(2026, time.July, 15, 18, 0, 0, 0, time.UTC)
)

// fixtureEnv reads the Linux fixture root testdata/linux/<root> at a fixed
// time, with an empty environment and no commands.
func fixtureEnv(t *testing.T, root string, now time.Time) *Env {
	t.Helper()
	abs, err := filepath.Abs(filepath.Join("testdata", "linux", root))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(abs); err != nil {
		t.Fatalf("fixture root: %v", err)
	}
	return rootEnv(abs, now)
}

func rootEnv(root string, now time.Time) *Env {
	return &Env{
		Root: root,
		Command: func(_ context.Context, name string, _ ...string) ([]byte, error) {
			return nil, fmt.Errorf("%s: no captured output in this fixture", name)
		},
		Now:    func() time.Time { return now },
		Getenv: func(string) string { return "" },
	}
}

// copyTree copies a fixture tree, recreating its symlinks as links.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		to := filepath.Join(dst, rel)
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(target, to)
		case d.IsDir():
			return os.MkdirAll(to, 0o755)
		default:
			in, err := os.Open(p)
			if err != nil {
				return err
			}
			defer in.Close()
			out, err := os.Create(to)
			if err != nil {
				return err
			}
			if _, err := io.Copy(out, in); err != nil {
				out.Close()
				return err
			}
			return out.Close()
		}
	})
	if err != nil {
		t.Fatalf("copy fixture %s: %v", src, err)
	}
}

// writeFiles writes files (and, for values starting with "->", symlinks)
// under root.
func writeFiles(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		var err error
		if len(content) > 2 && content[:2] == "->" {
			err = os.Symlink(content[2:], p)
		} else {
			err = os.WriteFile(p, []byte(content), 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}
