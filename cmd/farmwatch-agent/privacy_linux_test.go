package main

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestPrivacyUncataloguedProcess runs the real agent on this machine while a
// benign process with a distinctive name runs, and checks that nothing of
// it reaches the report (DESIGN section 8: process data only for catalog
// matches).
func TestPrivacyUncataloguedProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the agent binary on the real machine")
	}
	const canaryName = "farmwatch-privacy-canary"
	dir := t.TempDir()
	canary := filepath.Join(dir, canaryName)
	copyExecutable(t, "/bin/sleep", canary)
	cmd := exec.Command(canary, "600")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	// The canary is listed by the OS under its name before the agent looks.
	if !waitFor(5*time.Second, func() bool {
		comm, err := os.ReadFile(filepath.Join("/proc", fmt.Sprint(cmd.Process.Pid), "comm"))
		return err == nil && strings.TrimSpace(string(comm)) == canaryName[:15]
	}) {
		t.Fatal("the canary process did not start under its name")
	}

	js, r := runCollect(t)
	if r.GetRemoteAccess() == nil {
		t.Fatalf("no remote_access section: the process walk did not run: %v", r.GetErrors())
	}
	for _, s := range []string{canaryName[:15], dir} {
		if strings.Contains(string(js), s) {
			t.Errorf("the report mentions the uncatalogued process (%q):\n%s", s, js)
		}
	}
}

func copyExecutable(t *testing.T, src, dst string) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Skipf("no %s to copy: %v", src, err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}
