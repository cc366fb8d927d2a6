//go:build linux

package readme

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// InstalledEnv, set to 1, runs the block against the installed packages
// (/usr/bin, the packaged data and state dirs, port 7443) instead of
// binaries built from this tree; `make package-test` sets it while the
// packages are installed.
const InstalledEnv = "FARMWATCH_README_INSTALLED"

// The README's "Running it" block, run by sh as written, in a directory
// holding the files it names. Substitutions, all visible here: the data and
// state dirs come from FARMWATCH_DATA and FARMWATCH_AGENT_STATE, which the
// README documents for a run as a user; and, for binaries built from this
// tree, a free port stands for 7443, which another collector on this
// machine may hold. Against the installed packages nothing is substituted.
func TestReadmeRunningIt(t *testing.T) {
	md, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	block, err := Block(md, Section)
	if err != nil {
		t.Fatalf("README.md: %v", err)
	}
	checkShape(t, block)
	in, err := InputsOf(block)
	if err != nil {
		t.Fatalf("README.md %q: %v", Section, err)
	}
	if host, _ := os.Hostname(); host != "" {
		if _, err := net.LookupHost(host); err != nil {
			t.Fatalf("the block dials $(hostname), and %q does not resolve on this machine: %v", host, err)
		}
	}

	work := t.TempDir()
	env := append(os.Environ(), "FARMWATCH_SERVER=", "FARMWATCH_PROFILE=")
	if os.Getenv(InstalledEnv) == "1" {
		if os.Geteuid() != 0 {
			t.Skip("the installed packages' paths need root")
		}
		env = append(env, "PATH=/usr/bin:"+os.Getenv("PATH"), "FARMWATCH_DATA=", "FARMWATCH_AGENT_STATE=")
		t.Log("running the block against the installed packages: /usr/bin, /var/lib/farmwatch, /var/lib/farmwatch-agent, port 7443")
	} else {
		bin := buildBinaries(t)
		port := freePort(t)
		block = strings.ReplaceAll(block, ":7443", ":"+port)
		env = append(env, "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"),
			"FARMWATCH_DATA="+filepath.Join(t.TempDir(), "collector"), "FARMWATCH_AGENT_STATE="+filepath.Join(t.TempDir(), "agent"))
		t.Logf("running the block with binaries built from this tree, port %s for 7443", port)
	}
	if err := Prepare(work, in); err != nil {
		t.Fatal(err)
	}
	out, err := run(t, block, work, env)
	t.Logf("sh -e -x, in %s:\n%s", work, out)
	if err != nil {
		t.Fatalf("the README block failed: %v (the last '+' line above is the command that failed)", err)
	}
	// The agent pinned the CA the collector printed on its first start.
	if m := regexp.MustCompile(`CA fingerprint (sha256:[0-9a-f]{64})`).FindStringSubmatch(out); m == nil {
		t.Error("the collector printed no CA fingerprint")
	} else if !strings.Contains(out, "--ca-fingerprint "+m[1]) {
		t.Errorf("farmwatch-agent enroll was not given the collector's fingerprint %s", m[1])
	}
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`enrolled as device d-[0-9a-f]+ for hire ` + regexp.QuoteMeta(in.HireID)),
		regexp.MustCompile(`report \d+ delivered, 0 pending`),
		regexp.MustCompile(`(?m)^A-0+1\s`),
	} {
		if !want.MatchString(out) {
			t.Errorf("the block's output lacks %s", want)
		}
	}
}

// checkShape: the block still walks the documented production path.
func checkShape(t *testing.T, block string) {
	t.Helper()
	cmds := Commands(block)
	for _, want := range []string{
		"farmwatch serve --listen 0.0.0.0:",
		"farmwatch hires import ",
		"farmwatch tokens create --hire ",
		"farmwatch-agent enroll --collector ",
		"farmwatch-agent run --once",
		"farmwatch alerts list",
		"kill ",
	} {
		found := false
		for _, c := range cmds {
			found = found || strings.Contains(c, want)
		}
		if !found {
			t.Errorf("README %q has no command with %q: the test runs the production path", Section, want)
		}
	}
}

// run runs block with sh -e -x in dir, in its own process group, which is
// killed afterwards: a collector the block started in the background does
// not outlive it even when the block fails before stopping it.
func run(t *testing.T, block, dir string, env []string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", "-e", "-x", "-c", block)
	cmd.Dir, cmd.Env = dir, env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Start(); err != nil {
		return "", err
	}
	err := cmd.Wait()
	// What the block left running (its collector, stopping) ends before the
	// next step: the packaged run removes the packages next.
	pgid := cmd.Process.Pid
	syscall.Kill(-pgid, syscall.SIGTERM)
	for deadline := time.Now().Add(45 * time.Second); syscall.Kill(-pgid, 0) == nil; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			syscall.Kill(-pgid, syscall.SIGKILL)
			break
		}
	}
	return out.String(), err
}

func buildBinaries(t *testing.T) string {
	t.Helper()
	bin := t.TempDir()
	cmd := exec.Command("go", "build", "-trimpath", "-o", bin+string(os.PathSeparator), "../../cmd/farmwatch", "../../cmd/farmwatch-agent")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return port
}
