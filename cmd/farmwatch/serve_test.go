package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/farmwatch/farmwatch/collector/pki"
	"github.com/farmwatch/farmwatch/collector/server"
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

var farmwatchBuild = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "farmwatch-test-")
	if err != nil {
		return "", err
	}
	binDir = dir
	bin := filepath.Join(dir, "farmwatch")
	cmd := exec.Command("go", "build", "-trimpath", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

// farmwatchBinary builds farmwatch from this package, once per test run, to
// run it as a process the way an operator does.
func farmwatchBinary(t *testing.T) string {
	t.Helper()
	bin, err := farmwatchBuild()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// startServe runs `farmwatch serve` and waits until it prints that it
// listens; the process is stopped at the end of the test.
func startServe(t *testing.T, bin string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"serve"}, args...)...)
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
