package collect

import (
	"os"
	"path/filepath"
	"testing"
)

// TestParseOSReleaseFixtures reads the os-release files of three
// distributions: Arch is rolling and has no VERSION_ID.
func TestParseOSReleaseFixtures(t *testing.T) {
	tests := []struct{ file, id, version string }{
		{"debian-12.txt", "debian", "12"},
		{"ubuntu-24.04.txt", "ubuntu", "24.04"},
		{"arch-rolling.txt", "arch", ""},
	}
	for _, tt := range tests {
		b, err := os.ReadFile(filepath.Join("testdata", "linux", "os-release", tt.file))
		if err != nil {
			t.Fatal(err)
		}
		kv := parseOSRelease(b)
		if kv["ID"] != tt.id || kv["VERSION_ID"] != tt.version {
			t.Errorf("%s: ID %q VERSION_ID %q, want %q %q", tt.file, kv["ID"], kv["VERSION_ID"], tt.id, tt.version)
		}
	}
}
