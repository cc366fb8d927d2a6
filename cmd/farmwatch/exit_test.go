package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/farmwatch/farmwatch/internal/testcollector"
)

// testVersion is stamped into the binaries built for these tests, as the
// Makefile stamps the release version.
const testVersion = "9.8.7-exit-test"

// built holds farmwatch and farmwatch-agent, built once per test run with
// the Makefile's -X flags, for the tests that run them as processes.
var built = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "farmwatch-cli-test-")
	if err != nil {
		return "", err
	}
	binDir = dir
	ldflags := "-X github.com/farmwatch/farmwatch/agent/collect.Version=" + testVersion + " -X main.version=" + testVersion
	for _, pkg := range []string{".", "../farmwatch-agent"} {
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags", ldflags, "-o", dir+"/", pkg)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
		}
	}
	return dir, nil
})

// runBinary runs a built binary and returns its exit status, stdout and stderr.
func runBinary(t *testing.T, name string, args ...string) (int, string, string) {
	t.Helper()
	dir, err := built()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(dir, name), args...)
	cmd.Env = append(os.Environ(), "FARMWATCH_DATA="+t.TempDir(), "FARMWATCH_SERVER=")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, stdout.String(), stderr.String()
	case errors.As(err, &exit):
		return exit.ExitCode(), stdout.String(), stderr.String()
	}
	t.Fatalf("%s %v: %v", name, args, err)
	return 0, "", ""
}

// TestExitStatus runs both binaries as a script would and checks the exit
// status policy: 2 for a usage mistake, 1 for a runtime failure, 0 for
// success, each with what stderr says.
func TestExitStatus(t *testing.T) {
	c := testcollector.Start(t, nil)
	data := []string{"--data", c.Data}
	tests := []struct {
		bin    string
		args   []string
		status int
		stderr string // a substring of stderr; "" wants it empty
	}{
		// Usage errors: 2.
		{"farmwatch", []string{"tokens", "lst"}, 2, `unknown command "lst" for "farmwatch tokens"`},
		{"farmwatch", []string{"alerts", "lst"}, 2, `unknown command "lst" for "farmwatch alerts" (did you mean list?)`},
		{"farmwatch", []string{"alrets", "list"}, 2, `unknown command "alrets" for "farmwatch"`},
		{"farmwatch", append(data, "alerts", "list", "stray"), 2, `unknown command "stray" for "farmwatch alerts list"`},
		{"farmwatch", append(data, "hires", "list", "extra", "args"), 2, `unknown command "extra"`},
		{"farmwatch", append(data, "alerts", "show"), 2, "accepts 1 arg(s), received 0"},
		{"farmwatch", append(data, "alerts", "show", "A-1", "A-2"), 2, "accepts 1 arg(s), received 2"},
		{"farmwatch", append(data, "alerts", "list", "--bogus"), 2, "unknown flag: --bogus"},
		{"farmwatch", append(data, "alerts", "list", "--min-score", "lots"), 2, `invalid argument "lots" for "--min-score"`},
		{"farmwatch", append(data, "alerts", "list", "--min-score", "5"), 2, "--min-score 5: want a score from 0 to 1"},
		{"farmwatch", append(data, "alerts", "list", "--min-score", "-0.1"), 2, "--min-score -0.1: want a score from 0 to 1"},
		{"farmwatch", append(data, "alerts", "list", "--min-peak", "1.5"), 2, "--min-peak 1.5: want a score from 0 to 1"},
		{"farmwatch", append(data, "alerts", "list", "--min-score", "NaN"), 2, "want a score from 0 to 1"},
		{"farmwatch", append(data, "alerts", "list", "--status", "closed"), 2, "want open, acknowledged or resolved"},
		{"farmwatch", append(data, "alerts", "list", "--sort", "loudest"), 2, "want peak, current or newest"},
		{"farmwatch", append(data, "alerts", "list", "-o", "yaml"), 2, `--output "yaml": want table, json or wide`},
		{"farmwatch", append(data, "alerts", "resolve", "A-000001", "--verdict", "maybe", "--note", "x"), 2, "want confirmed or false-positive"},
		{"farmwatch", append(data, "tokens", "create"), 2, "--hire is required"},
		{"farmwatch", append(data, "model", "config", "-o", "xml"), 2, `--output "xml"`},
		{"farmwatch", append(data, "model", "backtest", "--since", "yesterday"), 2, `--since "yesterday"`},
		{"farmwatch", []string{"serve", "--memory-limit", "lots"}, 2, "--memory-limit"},
		{"farmwatch", []string{"serve", "--outputs", "/nonexistent/outputs.yaml"}, 2, "--outputs: outputs file"},
		{"farmwatch", append(data, "webhooks", "retry", "secops"), 2, "--event ID (repeatable) or --all"},
		{"farmwatch", append(data, "webhooks", "retry", "secops", "--event", "x"), 2, `--event "x"`},
		{"farmwatch", append(data, "webhooks", "retry", "secops", "--event", "3", "--all"), 2, "none of the others can be"},
		{"farmwatch", append(data, "webhooks", "test"), 2, "accepts 1 arg(s), received 0"},
		{"farmwatch-agent", []string{"collect", "--only", "bogus"}, 2, `--only "bogus": no such collector`},
		{"farmwatch-agent", []string{"collect", "stray"}, 2, `unknown command "stray"`},
		{"farmwatch-agent", []string{"collect", "-o", "yaml"}, 2, `--output "yaml"`},
		{"farmwatch-agent", []string{"collect", "--json", "-o", "table"}, 2, "--json is -o json"},
		{"farmwatch-agent", []string{"colect"}, 2, `unknown command "colect" for "farmwatch-agent"`},
		{"farmwatch-agent", []string{"enroll"}, 2, "--collector and --token are required"},
		{"farmwatch-agent", []string{"run", "--bogus"}, 2, "unknown flag: --bogus"},

		// Runtime errors: 1.
		{"farmwatch", []string{"alerts", "list"}, 1, "no collector address"},
		{"farmwatch", []string{"--server", "127.0.0.1:1", "--ca", "/nonexistent/ca.pem", "alerts", "list"}, 1, "collector CA"},
		{"farmwatch", append(data, "alerts", "show", "A-999999"), 1, "not found"},
		{"farmwatch", append(data, "tokens", "create", "--hire", "nobody"), 1, `hire "nobody" does not exist`},

		// Success: 0.
		{"farmwatch", []string{"--version"}, 0, ""},
		{"farmwatch", []string{"alerts"}, 0, ""},
		{"farmwatch", append(data, "alerts", "list", "--min-score", "1"), 0, ""},
		{"farmwatch", append(data, "alerts", "list", "-o", "wide"), 0, ""},
		{"farmwatch-agent", []string{"--version"}, 0, ""},
		{"farmwatch-agent", []string{"collect", "--only", "host", "--json"}, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.bin+" "+strings.Join(tt.args, " "), func(t *testing.T) {
			status, _, stderr := runBinary(t, tt.bin, tt.args...)
			if status != tt.status {
				t.Errorf("exit status %d, want %d; stderr:\n%s", status, tt.status, stderr)
			}
			if tt.stderr == "" && stderr != "" {
				t.Errorf("stderr not empty:\n%s", stderr)
			}
			if !strings.Contains(stderr, tt.stderr) {
				t.Errorf("stderr lacks %q:\n%s", tt.stderr, stderr)
			}
		})
	}
}

// TestVersion: both binaries print the version the build stamped.
func TestVersion(t *testing.T) {
	for _, bin := range []string{"farmwatch", "farmwatch-agent"} {
		status, stdout, _ := runBinary(t, bin, "--version")
		if want := bin + " version " + testVersion + "\n"; status != 0 || stdout != want {
			t.Errorf("%s --version: status %d, %q; want %q", bin, status, stdout, want)
		}
	}
}

// TestCollectTableUsesJSONNames: collect's table names every field as the
// JSON does, so what an employee reads is what a script reads.
func TestCollectTableUsesJSONNames(t *testing.T) {
	status, table, stderr := runBinary(t, "farmwatch-agent", "collect", "--only", "host")
	if status != 0 {
		t.Fatalf("collect: status %d\n%s", status, stderr)
	}
	_, asJSON, _ := runBinary(t, "farmwatch-agent", "collect", "--only", "host", "-o", "json")
	for _, field := range []string{"collected_at", "agent_version", "host.hostname", "host.os", "host.kernel_version"} {
		if !strings.Contains(table, "\n"+field+" ") {
			t.Errorf("collect table lacks the field %s:\n%s", field, table)
		}
		leaf := field[strings.LastIndex(field, ".")+1:]
		if !strings.Contains(asJSON, `"`+leaf+`":`) {
			t.Errorf("collect -o json lacks %q:\n%s", leaf, asJSON)
		}
	}
	_, alias, _ := runBinary(t, "farmwatch-agent", "collect", "--only", "host", "--json")
	if !strings.HasPrefix(alias, "{\n  \"collected_at\"") {
		t.Errorf("collect --json is not the JSON:\n%s", alias)
	}
}
