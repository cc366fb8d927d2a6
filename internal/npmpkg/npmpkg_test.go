package npmpkg

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha512"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeTarball(t *testing.T, files map[string]string) (path, integrity string) {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for name, body := range files {
		if err := tw.WriteHeader(&tar.Header{Name: "package/" + name, Mode: 0o644, Size: int64(len(body))}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(body))
	}
	tw.Close()
	gz.Close()
	sum := sha512.Sum512(buf.Bytes())
	p := Package{Name: "@scope/data", Version: "1.2.3"}
	path = filepath.Join(t.TempDir(), p.TarballName())
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, "sha512-" + base64.StdEncoding.EncodeToString(sum[:])
}

func TestVerifyAndRead(t *testing.T) {
	path, integrity := writeTarball(t, map[string]string{"a.csv": "1,2\n", "LICENSE": "CC BY 4.0"})
	p := Package{Name: "@scope/data", Version: "1.2.3", Integrity: integrity}
	if filepath.Base(path) != "scope-data-1.2.3.tgz" {
		t.Errorf("TarballName = %s, want npm pack's scope-data-1.2.3.tgz", filepath.Base(path))
	}
	if err := Verify(path, p); err != nil {
		t.Fatal(err)
	}
	// Fetch finds the verified tarball in place and never runs npm.
	if got, err := Fetch(filepath.Dir(path), p); err != nil || got != path {
		t.Fatalf("Fetch = %s, %v", got, err)
	}
	files, err := ReadFiles(path, "a.csv")
	if err != nil || string(files["a.csv"]) != "1,2\n" {
		t.Fatalf("ReadFiles = %q, %v", files, err)
	}
	if _, err := ReadFiles(path, "absent.csv"); err == nil || !strings.Contains(err.Error(), "absent.csv") {
		t.Errorf("ReadFiles(absent) error = %v, want it named", err)
	}
	p.Integrity = "sha512-AAAA"
	if err := Verify(path, p); err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Errorf("Verify with a wrong pin = %v, want a mismatch", err)
	}
	if _, err := Fetch(filepath.Dir(path), p); err == nil {
		t.Error("Fetch accepted a tarball that does not match its pin")
	}
}
