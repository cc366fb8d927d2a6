package sinks

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestConfigAcceptsTheDocumentedExample(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(dir, "secops.secret")
	if err := os.WriteFile(secret, []byte(testSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "outputs.yaml")
	yml := `outputs:
  - name: secops
    type: webhook
    url: https://hooks.example.com/farmwatch?team=sec
    secret_file: ` + secret + `
    kinds: [farm, device]
    min_score: 0.5
    events: [opened, review_crossed]
    timeout: 3s
    max_attempts: 4
  - name: chat
    type: slack
    url: https://hooks.slack.com/services/T000/B000/XXXXSECRETPATH
  - name: env-hook
    type: webhook
    url: http://127.0.0.1:9000/in
    secret_env: FARMWATCH_TEST_SECRET
  - name: siem-file
    type: jsonl
    path: /var/log/farmwatch/alerts.jsonl
  - name: siem-syslog
    type: syslog
    address: siem.example.com:6514
    tls: true
`
	if err := os.WriteFile(path, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("FARMWATCH_TEST_SECRET", testSecret)
	cfg, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Outputs) != 5 {
		t.Fatalf("%d outputs, want 5", len(cfg.Outputs))
	}
	wh, slack, env, file := cfg.Outputs[0], cfg.Outputs[1], cfg.Outputs[2], cfg.Outputs[3]
	if wh.Timeout != 3*time.Second || wh.MaxAttempts != 4 || len(wh.secret) != 24 || wh.MinScore != 0.5 {
		t.Errorf("webhook: %+v", wh)
	}
	if env.Timeout != DefaultTimeout || env.MaxAttempts != DefaultMaxAttempts || len(env.secret) != 24 {
		t.Errorf("defaults: timeout %v attempts %d secret %d bytes", env.Timeout, env.MaxAttempts, len(env.secret))
	}
	if file.MaxSizeMB != DefaultMaxSizeMB || file.MaxBackups != DefaultMaxBackups {
		t.Errorf("jsonl defaults: %d MB, %d backups", file.MaxSizeMB, file.MaxBackups)
	}
	for _, f := range []string{"%v", "%+v", "%s"} {
		if got := fmt.Sprintf(f, wh); strings.Contains(got, strings.Trim(fmt.Sprint(wh.secret), "[]")) || strings.Contains(got, fmt.Sprintf("%x", wh.secret)) || !strings.Contains(got, "secops") {
			t.Errorf("%s of an output: %s", f, got)
		}
	}
	if got := wh.Target(); got != "https://hooks.example.com/farmwatch" {
		t.Errorf("webhook target %q: want no query", got)
	}
	if got := slack.Target(); strings.Contains(got, "SECRET") || got != "https://hooks.slack.com" {
		t.Errorf("slack target %q: the path is Slack's secret and must not show", got)
	}
}

// TestConfigRefusals: every refusal names the output and the field.
func TestConfigRefusals(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	short := write("short", "whsec_c2hvcnQ=")
	bad64 := write("bad64", "whsec_***notbase64***")
	noPrefix := write("noprefix", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	notPEM := write("notpem", "hello")
	hook := func(extra string) string {
		return "outputs:\n  - name: hook\n    type: webhook\n    secret_env: GOOD\n" + extra
	}
	cases := []struct {
		name, yml string
		want      []string // substrings of the error
	}{
		{"empty file", "", []string{"empty"}},
		{"no outputs", "outputs: []\n", []string{"no outputs"}},
		{"unknown key", hook("    url: https://h.example/x\n    retries: 3\n"), []string{"retries", "not found"}},
		{"unknown top key", "output:\n  - name: x\n", []string{"output"}},
		{"missing name", "outputs:\n  - type: jsonl\n    path: /tmp/x\n", []string{"outputs[0]", "name: missing"}},
		{"bad name", "outputs:\n  - name: Sec_Ops\n    type: jsonl\n    path: /tmp/x\n", []string{`"Sec_Ops"`, "name:"}},
		{"unknown type", "outputs:\n  - name: x\n    type: email\n", []string{`output "x"`, "type", `"email"`}},
		{"missing type", "outputs:\n  - name: x\n", []string{`output "x"`, "type: missing"}},
		{"duplicate name", "outputs:\n  - name: x\n    type: jsonl\n    path: /a\n  - name: x\n    type: jsonl\n    path: /b\n", []string{`output "x"`, "name", "unique"}},
		{"malformed url", hook("    url: \"https://exa mple.com/%zz\"\n"), []string{`output "hook"`, "url", "malformed"}},
		{"scheme", hook("    url: ftp://example.com/in\n"), []string{`output "hook"`, "url", `scheme "ftp"`}},
		{"no scheme", hook("    url: example.com/in\n"), []string{`output "hook"`, "url", "scheme"}},
		{"no host", hook("    url: https:///in\n"), []string{`output "hook"`, "url", "no host"}},
		{"credentials", hook("    url: https://user:pw@example.com/in\n"), []string{`output "hook"`, "url", "credentials"}},
		{"missing url", hook(""), []string{`output "hook"`, "url: missing"}},
		{"no secret", "outputs:\n  - name: hook\n    type: webhook\n    url: https://h.example/x\n", []string{`output "hook"`, "secret_file: missing"}},
		{"secret env unset", "outputs:\n  - name: hook\n    type: webhook\n    url: https://h.example/x\n    secret_env: UNSET\n", []string{`output "hook"`, "secret_env", "UNSET", "not set"}},
		{"secret file missing", "outputs:\n  - name: hook\n    type: webhook\n    url: https://h.example/x\n    secret_file: " + filepath.Join(dir, "nope") + "\n", []string{`output "hook"`, "secret_file", "no such file"}},
		{"secret too short", "outputs:\n  - name: hook\n    type: webhook\n    url: https://h.example/x\n    secret_file: " + short + "\n", []string{`output "hook"`, "secret_file", "5 bytes, want at least 24"}},
		{"secret not base64", "outputs:\n  - name: hook\n    type: webhook\n    url: https://h.example/x\n    secret_file: " + bad64 + "\n", []string{`output "hook"`, "secret_file", "not base64"}},
		{"secret without whsec_", "outputs:\n  - name: hook\n    type: webhook\n    url: https://h.example/x\n    secret_file: " + noPrefix + "\n", []string{`output "hook"`, "secret_file", "not a whsec_ secret"}},
		{"both secrets", hook("    url: https://h.example/x\n    secret_file: " + short + "\n"), []string{`output "hook"`, "secret_env both set"}},
		{"secret on slack", "outputs:\n  - name: chat\n    type: slack\n    url: https://hooks.slack.com/x\n    secret_env: GOOD\n", []string{`output "chat"`, "secret_env", "not a field of a slack output"}},
		{"path on webhook", hook("    url: https://h.example/x\n    path: /tmp/x\n"), []string{`output "hook"`, "path", "not a field of a webhook"}},
		{"missing path", "outputs:\n  - name: f\n    type: jsonl\n", []string{`output "f"`, "path: missing"}},
		{"negative size", "outputs:\n  - name: f\n    type: jsonl\n    path: /x\n    max_size_mb: -1\n", []string{`output "f"`, "max_size_mb"}},
		{"missing address", "outputs:\n  - name: s\n    type: syslog\n", []string{`output "s"`, "address: missing"}},
		{"address without port", "outputs:\n  - name: s\n    type: syslog\n    address: siem.example.com\n", []string{`output "s"`, "address", "host:port"}},
		{"address bad port", "outputs:\n  - name: s\n    type: syslog\n    address: siem.example.com:99999\n", []string{`output "s"`, "address", "port"}},
		{"ca without tls", "outputs:\n  - name: s\n    type: syslog\n    address: h:6514\n    ca_file: " + notPEM + "\n", []string{`output "s"`, "ca_file", "tls is false"}},
		{"ca not pem", "outputs:\n  - name: s\n    type: syslog\n    address: h:6514\n    tls: true\n    ca_file: " + notPEM + "\n", []string{`output "s"`, "ca_file", "no PEM"}},
		{"bad kind", "outputs:\n  - name: f\n    type: jsonl\n    path: /x\n    kinds: [farms]\n", []string{`output "f"`, "kinds", `"farms"`}},
		{"bad event", "outputs:\n  - name: f\n    type: jsonl\n    path: /x\n    events: [closed]\n", []string{`output "f"`, "events", `"closed"`}},
		{"bad min score", "outputs:\n  - name: f\n    type: jsonl\n    path: /x\n    min_score: 50\n", []string{`output "f"`, "min_score"}},
		{"bad timeout", "outputs:\n  - name: f\n    type: jsonl\n    path: /x\n    timeout: soon\n", []string{"soon"}},
		{"negative attempts", "outputs:\n  - name: f\n    type: jsonl\n    path: /x\n    max_attempts: -2\n", []string{`output "f"`, "max_attempts"}},
	}
	env := func(k string) (string, bool) {
		if k == "GOOD" {
			return testSecret, true
		}
		return "", false
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseConfig([]byte(c.yml), env)
			if err == nil {
				t.Fatalf("accepted:\n%s", c.yml)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "MfKQ9r8G") || strings.Contains(err.Error(), "pw@") {
				t.Errorf("error %q shows a secret", err)
			}
		})
	}
}
