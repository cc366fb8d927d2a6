//go:build linux

package packaging

import (
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// TestDebInstall installs the .deb packages of this machine's architecture
// (built by `make package-test` into FARMWATCH_PACKAGE_DIR), checks files,
// owners and modes, verifies the systemd units, runs the installed agent,
// then removes and purges both and checks that nothing is left. It changes
// the machine, so it runs only as root with FARMWATCH_PACKAGE_TEST=1.
func TestDebInstall(t *testing.T) {
	if os.Getenv("FARMWATCH_PACKAGE_TEST") != "1" {
		t.Skip("set FARMWATCH_PACKAGE_TEST=1 (make package-test): installs packages on this machine")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root (dpkg -i)")
	}
	for _, tool := range []string{"dpkg", "dpkg-query", "systemd-analyze"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s", tool)
		}
	}
	dir := os.Getenv("FARMWATCH_PACKAGE_DIR")
	agentDeb := findDeb(t, dir, "farmwatch-agent_")
	collectorDeb := findDeb(t, dir, "farmwatch_")
	for _, p := range []string{"farmwatch-agent", "farmwatch"} {
		if out, err := exec.Command("dpkg-query", "-W", "-f=${Status}", p).Output(); err == nil && strings.Contains(string(out), "installed") && !strings.Contains(string(out), "not-installed") {
			t.Fatalf("package %s is already installed (%s): refusing to remove it", p, out)
		}
	}
	if _, err := os.Stat("/etc/farmwatch"); err == nil {
		t.Fatal("/etc/farmwatch exists before the test: refusing to touch it")
	}
	before := farmwatchPaths(t)

	// IT pushes the install config before the package, as it may, and with
	// a careless mode: postinst makes it root-only.
	if err := os.MkdirAll("/etc/farmwatch", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile("/etc/farmwatch/agent.json", []byte(`{"collector":"collector.example.com:7443","enrollment_token":"fwt_test"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	purged := false
	t.Cleanup(func() {
		if !purged {
			exec.Command("dpkg", "--purge", "farmwatch-agent", "farmwatch").Run()
			os.RemoveAll("/etc/farmwatch")
		}
	})

	run(t, "dpkg", "-i", agentDeb, collectorDeb)

	checkPath(t, "/usr/bin/farmwatch-agent", 0o755, "root", "root", false)
	checkPath(t, "/usr/lib/systemd/system/farmwatch-agent.service", 0o644, "root", "root", false)
	checkPath(t, "/usr/share/doc/farmwatch-agent/DEPLOY.md", 0o644, "root", "root", false)
	checkPath(t, "/usr/share/doc/farmwatch-agent/agent.json.example", 0o644, "root", "root", false)
	checkPath(t, "/usr/share/doc/farmwatch/copyright", 0o644, "root", "root", false)
	checkPath(t, "/etc/farmwatch", 0o755, "root", "root", true)
	checkPath(t, "/etc/farmwatch/agent.json", 0o600, "root", "root", false)
	checkPath(t, "/var/lib/farmwatch-agent", 0o700, "root", "root", true)
	checkPath(t, "/usr/bin/farmwatch", 0o755, "root", "root", false)
	checkPath(t, "/usr/lib/systemd/system/farmwatch.service", 0o644, "root", "root", false)
	checkPath(t, "/etc/default/farmwatch", 0o644, "root", "root", false)
	checkPath(t, "/var/lib/farmwatch", 0o750, "farmwatch", "farmwatch", true)
	for _, cmd := range []string{"farmwatch", "farmwatch-agent"} {
		checkPath(t, "/usr/share/man/man1/"+cmd+".1.gz", 0o644, "root", "root", false)
		checkPath(t, "/usr/share/bash-completion/completions/"+cmd, 0o644, "root", "root", false)
		checkPath(t, "/usr/share/zsh/vendor-completions/_"+cmd, 0o644, "root", "root", false)
		checkPath(t, "/usr/share/fish/vendor_completions.d/"+cmd+".fish", 0o644, "root", "root", false)
	}
	checkPath(t, "/usr/share/man/man1/farmwatch-serve.1.gz", 0o644, "root", "root", false)
	u, err := user.Lookup("farmwatch")
	if err != nil {
		t.Fatalf("collector user: %v", err)
	}
	if u.HomeDir != "/var/lib/farmwatch" {
		t.Errorf("farmwatch user home %q", u.HomeDir)
	}
	if conffiles := run(t, "dpkg-query", "-W", "-f=${Conffiles}", "farmwatch"); !strings.Contains(conffiles, "/etc/default/farmwatch") {
		t.Errorf("/etc/default/farmwatch is not a conffile: %q", conffiles)
	}
	if _, err := exec.LookPath("systemctl"); err == nil {
		for _, unit := range []string{"farmwatch-agent.service", "farmwatch.service"} {
			if _, err := os.Lstat("/etc/systemd/system/multi-user.target.wants/" + unit); err != nil {
				t.Errorf("%s not enabled: %v", unit, err)
			}
		}
	}

	out := run(t, "systemd-analyze", "verify", "/usr/lib/systemd/system/farmwatch-agent.service", "/usr/lib/systemd/system/farmwatch.service")
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "farmwatch") {
			t.Errorf("systemd-analyze verify: %s", line)
		}
	}
	t.Logf("systemd-analyze verify: ok%s", indent(out))

	version := strings.TrimSpace(run(t, "/usr/bin/farmwatch-agent", "--version"))
	t.Logf("installed: %s", version)
	var report map[string]any
	rep := run(t, "/usr/bin/farmwatch-agent", "collect", "--json")
	if err := json.Unmarshal([]byte(rep), &report); err != nil {
		t.Fatalf("collect --json of the installed agent: %v\n%s", err, rep)
	}
	if report["host"] == nil {
		t.Errorf("collect --json has no host section: %s", rep)
	}
	t.Logf("installed agent's collect --json: %d bytes, sections %v", len(rep), sortedKeys(report))
	run(t, "/usr/bin/farmwatch", "--help")
	runReadmeBlock(t)

	// Remove keeps config, identity and data (an upgrade or reinstall goes on).
	run(t, "dpkg", "--remove", "farmwatch-agent", "farmwatch")
	for _, p := range []string{"/usr/bin/farmwatch-agent", "/usr/bin/farmwatch", "/usr/lib/systemd/system/farmwatch-agent.service"} {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("%s still there after remove", p)
		}
	}
	for _, p := range []string{"/etc/farmwatch/agent.json", "/var/lib/farmwatch-agent", "/var/lib/farmwatch", "/etc/default/farmwatch"} {
		if _, err := os.Lstat(p); err != nil {
			t.Errorf("%s gone after remove (only purge deletes it): %v", p, err)
		}
	}

	run(t, "dpkg", "--purge", "farmwatch-agent", "farmwatch")
	purged = true
	after := farmwatchPaths(t)
	var left []string
	for _, p := range after {
		if !slices.Contains(before, p) {
			left = append(left, p)
		}
	}
	if len(left) > 0 {
		t.Errorf("left after purge:\n%s", strings.Join(left, "\n"))
	}
	if _, err := user.Lookup("farmwatch"); err == nil {
		t.Error("user farmwatch still exists after purge")
	}
	if _, err := user.LookupGroup("farmwatch"); err == nil {
		t.Error("group farmwatch still exists after purge")
	}
	t.Logf("purged: no farmwatch file, directory, user or group left")
}

func findDeb(t *testing.T, dir, prefix string) string {
	t.Helper()
	matches, _ := filepath.Glob(filepath.Join(dir, prefix+"*_"+runtime.GOARCH+".deb"))
	if len(matches) != 1 {
		t.Fatalf("want one %s*_%s.deb in FARMWATCH_PACKAGE_DIR=%q, found %v (run make package-test)", prefix, runtime.GOARCH, dir, matches)
	}
	return matches[0]
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func checkPath(t *testing.T, path string, mode fs.FileMode, owner, group string, dir bool) {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Errorf("%s: %v", path, err)
		return
	}
	if fi.IsDir() != dir {
		t.Errorf("%s: directory = %v, want %v", path, fi.IsDir(), dir)
	}
	if fi.Mode().Perm() != mode {
		t.Errorf("%s: mode %o, want %o", path, fi.Mode().Perm(), mode)
	}
	st := fi.Sys().(*syscall.Stat_t)
	u, _ := user.LookupId(strconv.FormatUint(uint64(st.Uid), 10))
	g, _ := user.LookupGroupId(strconv.FormatUint(uint64(st.Gid), 10))
	if u == nil || g == nil || u.Username != owner || g.Name != group {
		t.Errorf("%s: owner %d:%d, want %s:%s", path, st.Uid, st.Gid, owner, group)
	}
}

// farmwatchPaths lists every path with "farmwatch" in its name under the
// trees a package touches.
func farmwatchPaths(t *testing.T) []string {
	t.Helper()
	var paths []string
	for _, root := range []string{"/etc", "/usr", "/var/lib", "/var/cache", "/var/log", "/run/systemd"} {
		filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return nil // unreadable or vanished: not ours
			}
			if strings.Contains(d.Name(), "farmwatch") {
				paths = append(paths, p)
			}
			return nil
		})
	}
	slices.Sort(paths)
	return paths
}

func sortedKeys(m map[string]any) []string {
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func indent(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	return "\n    " + strings.ReplaceAll(s, "\n", "\n    ")
}

// runReadmeBlock runs the README's "Running it" block against the installed
// binaries and the packaged paths (/usr/bin, /var/lib/farmwatch,
// /var/lib/farmwatch-agent, port 7443): the same extractor and checks as
// TestReadmeRunningIt in make test, through that test, with
// FARMWATCH_README_INSTALLED=1. The packaged services are stopped first, as
// they hold the data dirs the block uses.
func runReadmeBlock(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("systemctl"); err == nil {
		for _, unit := range []string{"farmwatch.service", "farmwatch-agent.service"} {
			if exec.Command("systemctl", "is-active", "--quiet", unit).Run() == nil {
				run(t, "systemctl", "stop", unit)
			}
		}
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	cmd := exec.Command(goBin, "test", "-count=1", "-v", "-run", "^TestReadmeRunningIt$", "./internal/readme/")
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), "FARMWATCH_README_INSTALLED=1")
	out, err := cmd.CombinedOutput()
	t.Logf("README block against the installed packages:%s", indent(string(out)))
	if err != nil {
		t.Fatalf("README block against the installed packages: %v", err)
	}
	if !strings.Contains(string(out), "--- PASS: TestReadmeRunningIt") {
		t.Fatal("README block against the installed packages: TestReadmeRunningIt did not pass (skipped?)")
	}
}
