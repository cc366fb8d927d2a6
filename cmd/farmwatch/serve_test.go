package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/farmwatch/farmwatch/collector/pki"
	"github.com/farmwatch/farmwatch/collector/server"
	"github.com/farmwatch/farmwatch/internal/cli"
)

// binDir holds the farmwatch binary built for the tests that run it as a
// process.
var binDir string

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// farmwatchBinary builds farmwatch from this package, once per test run, to
// run it as a process the way an operator does.
func farmwatchBinary(t *testing.T) string {
	t.Helper()
	dir, err := built()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, "farmwatch")
}

// startServe runs `farmwatch serve` and waits until it prints that it
// listens; the process is stopped at the end of the test.
func startServe(t *testing.T, bin string, args ...string) *exec.Cmd {
	t.Helper()
	return startCollector(t, bin, append([]string{"serve"}, args...)...)
}

// startCollector runs bin with args (a serve command line) as startServe.
func startCollector(t *testing.T, bin string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(bin, args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
	})
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "collector listening on ") {
				ready <- sc.Text()
			}
		}
		close(ready)
	}()
	select {
	case line, ok := <-ready:
		if !ok {
			t.Fatalf("farmwatch serve %s exited before listening:\n%s", strings.Join(args, " "), stderr.String())
		}
		t.Log(line)
	case <-time.After(30 * time.Second):
		t.Fatalf("farmwatch serve %s: not listening after 30 s:\n%s", strings.Join(args, " "), stderr.String())
	}
	return cmd
}

// snapshot maps every file under dir to its bytes.
func snapshot(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		files[p] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// TestSecondServeLeavesDataDirAlone: a second collector on a data dir in use
// exits with status 1 and a message naming the dir, and the running
// collector's certificates, keys, CA and address file stay byte for byte
// what they were.
func TestSecondServeLeavesDataDirAlone(t *testing.T) {
	bin := farmwatchBinary(t)
	operatorCA := func(t *testing.T) []string {
		dir := t.TempDir()
		if _, _, err := pki.LoadOrCreateCA(dir); err != nil {
			t.Fatal(err)
		}
		return []string{"--ca-cert", filepath.Join(dir, pki.CAFile), "--ca-key", filepath.Join(dir, pki.CAKeyFile)}
	}
	for _, tc := range []struct {
		name       string
		first, sec func(t *testing.T) []string
	}{
		{"own CA", func(*testing.T) []string { return nil }, func(*testing.T) []string { return nil }},
		{"operator CA", operatorCA, operatorCA},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := t.TempDir()
			startServe(t, bin, append([]string{"--data", data, "--listen", "127.0.0.1:0"}, tc.first(t)...)...)
			before := snapshot(t, data)
			if _, ok := before[filepath.Join(data, "tls", pki.ServerFile)]; !ok {
				t.Fatalf("no server certificate in %s", data)
			}

			second := exec.Command(bin, append([]string{"serve", "--data", data, "--listen", "127.0.0.1:0"}, tc.sec(t)...)...)
			out, err := second.CombinedOutput()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != 1 {
				t.Fatalf("second serve on a dir in use: %v, want exit status 1\n%s", err, out)
			}
			msg := string(out)
			for _, want := range []string{"data dir " + data + " is in use", "held by"} {
				if !strings.Contains(msg, want) {
					t.Errorf("second serve's error lacks %q:\n%s", want, msg)
				}
			}
			t.Logf("second serve: %s", strings.TrimSpace(msg))
			after := snapshot(t, data)
			for p, b := range before {
				if filepath.Base(p) == "farmwatch.db" {
					continue // the running collector's own writes
				}
				if !bytes.Equal(after[p], b) {
					t.Errorf("%s changed under the running collector", p)
				}
			}
			for p := range after {
				if _, ok := before[p]; !ok {
					t.Errorf("%s appeared under the running collector", p)
				}
			}
		})
	}
}

// servedAddr reads the address the collector wrote for the CLI.
func servedAddr(t *testing.T, data string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(data, server.AddrFile))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// TestServeWithPackagedSettings runs the collector as the packaged unit
// does: its ExecStart with the values of its Environment= lines and of
// /etc/default/farmwatch as shipped, and with FARMWATCH_LISTEN=0.0.0.0:7443,
// which that file and DEPLOY.md tell operators to set. Then the CLI on the
// same host, given only the data dir, reaches it. Substituted: the built
// binary for /usr/bin/farmwatch, a temporary dir for /var/lib/farmwatch, and
// port 0 for 7443 (another collector may hold it).
func TestServeWithPackagedSettings(t *testing.T) {
	bin := farmwatchBinary(t)
	unit := readFile(t, "../../packaging/linux/farmwatch.service")
	env := map[string]string{}
	var execStart string
	for _, line := range strings.Split(unit, "\n") {
		if v, ok := strings.CutPrefix(line, "Environment="); ok {
			k, val, _ := strings.Cut(v, "=")
			env[k] = unquote(val)
		}
		if v, ok := strings.CutPrefix(line, "ExecStart="); ok {
			execStart = v
		}
	}
	if execStart == "" {
		t.Fatal("farmwatch.service has no ExecStart=")
	}
	for _, line := range strings.Split(readFile(t, "../../packaging/linux/farmwatch.default"), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("farmwatch.default: %q is not KEY=VALUE", line)
		}
		env[k] = unquote(v)
	}
	if env["FARMWATCH_LISTEN"] == "" {
		t.Fatal("the packaged settings set no FARMWATCH_LISTEN")
	}
	for _, listen := range []string{env["FARMWATCH_LISTEN"], "0.0.0.0:7443"} {
		t.Run(listen, func(t *testing.T) {
			data := t.TempDir()
			vars := map[string]string{}
			for k, v := range env {
				vars[k] = v
			}
			vars["FARMWATCH_LISTEN"] = strings.Replace(listen, ":7443", ":0", 1)
			// systemd's expansion: ${VAR} is one word, $VAR splits at spaces.
			var argv []string
			for _, word := range strings.Fields(execStart) {
				if name, ok := strings.CutPrefix(word, "$"); ok {
					name = strings.Trim(name, "{}")
					argv = append(argv, strings.Fields(vars[name])...)
					continue
				}
				argv = append(argv, word)
			}
			if argv[0] != "/usr/bin/farmwatch" {
				t.Fatalf("ExecStart runs %s, want /usr/bin/farmwatch", argv[0])
			}
			for i, a := range argv {
				if a == "/var/lib/farmwatch" {
					argv[i] = data
				}
			}
			t.Logf("ExecStart: %s", strings.Join(argv, " "))
			startCollector(t, bin, argv[1:]...)
			addr := servedAddr(t, data)
			if !strings.HasPrefix(addr, "127.0.0.1:") {
				t.Errorf("--listen %s: %s holds %q, want 127.0.0.1:PORT", listen, server.AddrFile, addr)
			}
			for _, args := range [][]string{{"status"}, {"hires", "list"}} {
				out, err := exec.Command(bin, append([]string{"--data", data}, args...)...).CombinedOutput()
				if err != nil {
					t.Errorf("farmwatch --data DIR %s against the packaged collector: %v\n%s", strings.Join(args, " "), err, out)
				}
			}
		})
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// unquote removes the quotes systemd's EnvironmentFile= allows around a value.
func unquote(v string) string {
	v = strings.TrimSpace(v)
	if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
		return v[1 : len(v)-1]
	}
	return v
}

// TestServeLogFormats: `farmwatch serve --log-format json` writes one JSON
// object per line with RFC 3339 UTC times; --log-level warn drops INFO; bad
// values are usage errors (exit 2) before anything starts.
func TestServeLogFormats(t *testing.T) {
	for _, args := range [][]string{{"--log-format", "xml"}, {"--log-level", "verbose"}} {
		_, _, err := runCLI(t, t.TempDir(), append([]string{"serve", "--listen", "127.0.0.1:0"}, args...)...)
		if cli.ExitCode(err) != cli.ExitUsage || !strings.Contains(err.Error(), args[0]) {
			t.Errorf("serve %v: %v (exit %d), want a usage error naming the flag", args, err, cli.ExitCode(err))
		}
	}
	bin := farmwatchBinary(t)
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, append([]string{"serve", "--data", t.TempDir(), "--listen", "127.0.0.1:0"}, args...)...)
		var stderr lockedLog
		cmd.Stderr = &stderr
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(stdout)
		for sc.Scan() && !strings.HasPrefix(sc.Text(), "collector listening on ") {
		}
		cmd.Process.Signal(os.Interrupt)
		if err := cmd.Wait(); err != nil {
			t.Fatalf("serve %v: %v\n%s", args, err, stderr.String())
		}
		return stderr.String()
	}
	out := run("--log-format", "json")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var listening bool
	for _, line := range lines {
		var rec struct {
			Time  string `json:"time"`
			Level string `json:"level"`
			Msg   string `json:"msg"`
		}
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("a log line is not a JSON object: %v: %q", err, line)
		}
		at, err := time.Parse(time.RFC3339Nano, rec.Time)
		if err != nil || !strings.HasSuffix(rec.Time, "Z") || time.Since(at) > time.Minute {
			t.Errorf("time %q: want RFC 3339 in UTC, now (%v)", rec.Time, err)
		}
		listening = listening || (rec.Msg == "collector listening" && rec.Level == "INFO")
	}
	if !listening {
		t.Errorf("no INFO \"collector listening\" record:\n%s", out)
	}
	text := run("--log-level", "warn")
	if strings.Contains(text, "level=INFO") || !strings.Contains(text, `level=WARN msg="NO GEO DATABASES`) {
		t.Errorf("--log-level warn:\n%s", text)
	}
	if !regexp.MustCompile(`(?m)^time=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z level=`).MatchString(text) {
		t.Errorf("text log times are not RFC 3339 UTC:\n%s", text)
	}
}
