package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/farmwatch/farmwatch/internal/testcollector"
)

// runArgs runs the farmwatch command in-process with exactly these
// arguments (runCLI adds --data, which names the local collector).
func runArgs(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	root := newRoot()
	var out, errb bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errb)
	root.SetArgs(args)
	err = root.ExecuteContext(context.Background())
	return out.String(), errb.String(), err
}

// isolateConfig gives the test its own config dir and a clean environment.
func isolateConfig(t *testing.T) string {
	t.Helper()
	cfg := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", cfg)
	t.Setenv("HOME", t.TempDir())
	for _, v := range []string{"FARMWATCH_SERVER", "FARMWATCH_CA", "FARMWATCH_CERT", "FARMWATCH_KEY", "FARMWATCH_PROFILE", "FARMWATCH_DATA"} {
		t.Setenv(v, "")
	}
	// A data dir no collector runs in: a command that falls through to it fails.
	t.Setenv("FARMWATCH_DATA", "")
	return cfg
}

// collectorWithHire starts a collector holding one hire, whose id tells
// which collector answered.
func collectorWithHire(t *testing.T, hire string) *testcollector.Collector {
	t.Helper()
	c := testcollector.Start(t, nil)
	if _, _, err := runCLI(t, c.Data, "hires", "add", "--id", hire, "--name", "Ana", "--claimed-home", "Austin, TX, US"); err != nil {
		t.Fatal(err)
	}
	return c
}

// issueProfile has the collector's local operator issue a profile.
func issueProfile(t *testing.T, c *testcollector.Collector, name, role string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), name+".profile.yaml")
	stdout, stderr, err := runCLI(t, c.Data, "admin", "issue", "--name", name, "--role", role, "--out", out)
	if err != nil {
		t.Fatalf("admin issue: %v\n%s", err, stderr)
	}
	if !strings.Contains(stdout, "profile for "+c.Addr()) || !strings.Contains(stderr, "only this host can reach") {
		t.Fatalf("admin issue said:\n%s\n%s", stdout, stderr)
	}
	if st, err := os.Stat(out); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("profile file: %v %v", st, err)
	}
	return out
}

// whichCollector lists hires and says which collector's hire came back.
func whichCollector(t *testing.T, args ...string) string {
	t.Helper()
	stdout, stderr, err := runArgs(t, append(args, "hires", "list", "-o", "json")...)
	if err != nil {
		t.Fatalf("hires list %v: %v\n%s", args, err, stderr)
	}
	var doc struct {
		Hires []struct {
			ID string `json:"id"`
		} `json:"hires"`
	}
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil || len(doc.Hires) != 1 {
		t.Fatalf("hires list %v: %v\n%s", args, err, stdout)
	}
	return doc.Hires[0].ID
}

// Each of address, CA, certificate and key comes from its flag, then its
// FARMWATCH_* variable, then --profile or FARMWATCH_PROFILE, then the
// default profile, then the data dir; a named data dir passes over the
// default profile.
func TestProfilePrecedence(t *testing.T) {
	isolateConfig(t)
	a := collectorWithHire(t, "hire-a")
	b := collectorWithHire(t, "hire-b")
	for name, c := range map[string]*testcollector.Collector{"a": a, "b": b} {
		file := issueProfile(t, c, "rev-"+name, "reviewer")
		if _, stderr, err := runArgs(t, "profile", "import", file, "--name", name); err != nil {
			t.Fatalf("import: %v %s", err, stderr)
		}
	}
	// Without a default profile, nothing names a collector: the data dir,
	// where none runs, is the last resort, and it says what to do.
	if _, _, err := runArgs(t, "--data", t.TempDir(), "hires", "list"); err == nil || !strings.Contains(err.Error(), "--server") {
		t.Fatalf("no profile, empty data dir: %v", err)
	}
	if _, _, err := runArgs(t, "profile", "use", "a"); err != nil {
		t.Fatal(err)
	}
	stdout, _, err := runArgs(t, "profile", "list")
	if err != nil || !strings.Contains(stdout, "*  a") || !strings.Contains(stdout, a.Addr()) || !strings.Contains(stdout, "rev-b") {
		t.Fatalf("profile list: %v\n%s", err, stdout)
	}
	flagsFor := func(c *testcollector.Collector) []string {
		tls := filepath.Join(c.Data, "tls")
		return []string{"--server", c.Addr(), "--ca", filepath.Join(tls, "ca.pem"),
			"--cert", filepath.Join(tls, "admin.pem"), "--key", filepath.Join(tls, "admin-key.pem")}
	}
	envFor := func(c *testcollector.Collector) {
		tls := filepath.Join(c.Data, "tls")
		t.Setenv("FARMWATCH_SERVER", c.Addr())
		t.Setenv("FARMWATCH_CA", filepath.Join(tls, "ca.pem"))
		t.Setenv("FARMWATCH_CERT", filepath.Join(tls, "admin.pem"))
		t.Setenv("FARMWATCH_KEY", filepath.Join(tls, "admin-key.pem"))
	}
	clearEnv := func() {
		for _, v := range []string{"FARMWATCH_SERVER", "FARMWATCH_CA", "FARMWATCH_CERT", "FARMWATCH_KEY", "FARMWATCH_PROFILE", "FARMWATCH_DATA"} {
			t.Setenv(v, "")
		}
	}
	steps := []struct {
		name string
		env  func()
		args []string
		want string
	}{
		{"default profile", nil, nil, "hire-a"},
		{"FARMWATCH_PROFILE over the default", func() { t.Setenv("FARMWATCH_PROFILE", "b") }, nil, "hire-b"},
		{"--profile over FARMWATCH_PROFILE", func() { t.Setenv("FARMWATCH_PROFILE", "a") }, []string{"--profile", "b"}, "hire-b"},
		{"--profile FILE", nil, []string{"--profile", filepath.Join(os.Getenv("XDG_CONFIG_HOME"), "farmwatch", "profiles", "b")}, "hire-b"},
		{"FARMWATCH_* over --profile", func() { envFor(b) }, []string{"--profile", "a"}, "hire-b"},
		{"flags over FARMWATCH_*", func() { envFor(b) }, flagsFor(a), "hire-a"},
		{"--data over the default profile", nil, []string{"--data", b.Data}, "hire-b"},
		{"FARMWATCH_DATA over the default profile", func() { t.Setenv("FARMWATCH_DATA", b.Data) }, nil, "hire-b"},
		{"--profile over --data", nil, []string{"--data", a.Data, "--profile", "b"}, "hire-b"},
	}
	for _, s := range steps {
		clearEnv()
		if s.env != nil {
			s.env()
		}
		if got := whichCollector(t, s.args...); got != s.want {
			t.Errorf("%s: answered by the collector of %s, want %s", s.name, got, s.want)
		}
	}
	clearEnv()
	if _, _, err := runArgs(t, "--profile", "nobody", "hires", "list"); err == nil || !strings.Contains(err.Error(), "profile import") {
		t.Fatalf("a profile that does not exist: %v", err)
	}
}

// A profile file others can read is refused, at import and in use, with
// what to do; the data in it is not used.
func TestProfileReadableByOthersRefused(t *testing.T) {
	isolateConfig(t)
	c := collectorWithHire(t, "hire-a")
	file := issueProfile(t, c, "ana", "viewer")
	if err := os.Chmod(file, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"profile", "import", file}, {"--profile", file, "hires", "list"}} {
		_, _, err := runArgs(t, args...)
		if err == nil || !strings.Contains(err.Error(), "accessible by others (mode 0644)") || !strings.Contains(err.Error(), "chmod 600 "+file) {
			t.Fatalf("%v: %v", args, err)
		}
	}
	os.Chmod(file, 0o600)
	if _, _, err := runArgs(t, "profile", "import", file); err != nil {
		t.Fatal(err)
	}
	imported := filepath.Join(os.Getenv("XDG_CONFIG_HOME"), "farmwatch", "profiles", "ana")
	if got := whichCollector(t, "--profile", "ana"); got != "hire-a" {
		t.Fatalf("imported profile answered by %s", got)
	}
	os.Chmod(imported, 0o640)
	if _, _, err := runArgs(t, "--profile", "ana", "hires", "list"); err == nil || !strings.Contains(err.Error(), "accessible by others") {
		t.Fatalf("group-readable imported profile: %v", err)
	}
}

// Tokens and admin certificates through the CLI: lists with an explicit
// envelope (empty as []), never a token's secret, revocation by id and
// serial, and a revoked profile refused on its next call.
func TestCredentialListsThroughCLI(t *testing.T) {
	isolateConfig(t)
	c := collectorWithHire(t, "h1")
	stdout, _, err := runCLI(t, c.Data, "tokens", "list", "-o", "json")
	if err != nil || strings.Join(strings.Fields(stdout), "") != `{"tokens":[]}` {
		t.Fatalf("empty tokens list: %v %q", err, stdout)
	}
	stdout, _, err = runCLI(t, c.Data, "tokens", "create", "--hire", "h1", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var tok struct{ Token, ID string }
	if err := json.Unmarshal([]byte(stdout), &tok); err != nil || tok.ID == "" {
		t.Fatalf("tokens create -o json: %v %s", err, stdout)
	}
	stdout, _, err = runCLI(t, c.Data, "tokens", "list")
	if err != nil || !strings.Contains(stdout, tok.ID) || !strings.Contains(stdout, "unused") || strings.Contains(stdout, tok.Token) {
		t.Fatalf("tokens list: %v\n%s", err, stdout)
	}
	if _, _, err := runCLI(t, c.Data, "tokens", "revoke", tok.ID, "--note", "wrong hire"); err != nil {
		t.Fatal(err)
	}
	stdout, _, err = runCLI(t, c.Data, "tokens", "list", "-o", "json")
	if err != nil || !strings.Contains(strings.Join(strings.Fields(stdout), ""), `"state":"revoked"`) || strings.Contains(stdout, tok.Token) {
		t.Fatalf("tokens list after revoke: %v\n%s", err, stdout)
	}

	file := issueProfile(t, c, "ana", "viewer")
	stdout, _, err = runCLI(t, c.Data, "admin", "list", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var admins struct {
		Certificates []struct{ Serial, Name string } `json:"certificates"`
	}
	if err := json.Unmarshal([]byte(stdout), &admins); err != nil {
		t.Fatal(err)
	}
	serial := ""
	for _, a := range admins.Certificates {
		if a.Name == "ana" {
			serial = a.Serial
		}
	}
	if serial == "" {
		t.Fatalf("admin list lacks ana:\n%s", stdout)
	}
	if got := whichCollector(t, "--profile", file); got != "h1" {
		t.Fatal(got)
	}
	if _, _, err := runCLI(t, c.Data, "admin", "revoke", serial); err == nil || !strings.Contains(err.Error(), "--note") {
		t.Fatalf("revoke without a note: %v", err)
	}
	if _, _, err := runCLI(t, c.Data, "admin", "revoke", serial, "--note", "left the team"); err != nil {
		t.Fatal(err)
	}
	_, _, err = runArgs(t, "--profile", file, "hires", "list")
	if err == nil || !strings.Contains(err.Error(), "unauthenticated") || !strings.Contains(err.Error(), "revoked") {
		t.Fatalf("revoked profile: %v", err)
	}
	stdout, _, err = runCLI(t, c.Data, "admin", "list")
	if err != nil || !strings.Contains(stdout, "revoked") {
		t.Fatalf("admin list: %v\n%s", err, stdout)
	}
}
