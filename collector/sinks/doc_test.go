package sinks

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDocumentedReceiverVerifies: the receiver's verify function in
// docs/ALERTS-OUT.md, built as written, accepts farmwatch's signature and
// refuses a changed body, another secret and an old timestamp.
func TestDocumentedReceiverVerifies(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the documented example")
	}
	md, err := os.ReadFile("../../docs/ALERTS-OUT.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(md)
	start := strings.Index(doc, "```go\npackage main\n")
	if start < 0 {
		t.Fatal("docs/ALERTS-OUT.md has no Go receiver example")
	}
	code := doc[start+len("```go\n"):]
	code = code[:strings.Index(code, "```")]
	key, _ := ParseSecret(testSecret)
	body := []byte(`{"id":"7","type":"opened"}`)
	now := time.Now()
	sig := Sign(key, "evt_7", now, body)
	check := `package main

import (
	"encoding/base64"
	"net/http"
	"strconv"
	"testing"
	"time"
)

func TestVerify(t *testing.T) {
	key, _ := base64.StdEncoding.DecodeString("` + strings.TrimPrefix(testSecret, SecretPrefix) + `")
	h := http.Header{}
	h.Set("webhook-id", "evt_7")
	h.Set("webhook-timestamp", "` + fmt.Sprint(now.Unix()) + `")
	h.Set("webhook-signature", "` + sig + `")
	body := []byte(` + "`" + string(body) + "`" + `)
	if !verify(key, h, body) {
		t.Error("farmwatch's signature refused")
	}
	if verify(key, h, append(body, ' ')) {
		t.Error("a changed body accepted")
	}
	if verify([]byte("another secret of 24 bytes"), h, body) {
		t.Error("another secret accepted")
	}
	old := h.Clone()
	old.Set("webhook-timestamp", strconv.FormatInt(time.Now().Add(-10*time.Minute).Unix(), 10))
	if verify(key, old, body) {
		t.Error("a ten-minute-old timestamp accepted")
	}
}
`
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module receiver\n\ngo 1.22\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "main.go"), []byte(code), 0o644)
	os.WriteFile(filepath.Join(dir, "main_test.go"), []byte(check), 0o644)
	cmd := exec.Command("go", "test", "-count=1", "./...")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("the documented receiver: %v\n%s", err, out)
	}
}
