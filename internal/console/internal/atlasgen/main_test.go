package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// The committed atlas is what this generator writes: its SOURCES.txt names
// the pins here, and every file it copies is there, licences included.
func TestCommittedAtlasMatchesPins(t *testing.T) {
	dir := filepath.Join("..", "..", "atlas")
	got, err := os.ReadFile(filepath.Join(dir, "SOURCES.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, sources()) {
		t.Errorf("atlas/SOURCES.txt differs from the pins: run make console-assets\n%s", got)
	}
	for _, p := range picks {
		fi, err := os.Stat(filepath.Join(dir, p.to))
		if err != nil || fi.Size() == 0 {
			t.Errorf("atlas/%s (from %s): %v", p.to, p.pkg, err)
		}
	}
	lic, _ := os.ReadFile(filepath.Join(dir, "LICENSE.world-atlas"))
	if !bytes.Contains(lic, []byte("Permission to use, copy, modify, and/or distribute")) {
		t.Error("LICENSE.world-atlas is not the ISC licence")
	}
}
