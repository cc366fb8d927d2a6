package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/farmwatch/farmwatch/internal/release"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// binDir holds the agent binary built once for the tests that run it as a
// separate process, as an employee or IT would.
var binDir string

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

var agentBuild = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "farmwatch-agent-test-")
	if err != nil {
		return "", err
	}
	binDir = dir
	bin := filepath.Join(dir, "farmwatch-agent")
	// With the release's build tags: the footprint benchmark measures the
	// binary that ships.
	cmd := exec.Command("go", "build", "-trimpath", "-tags", release.Tags, "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

// agentBinary builds farmwatch-agent from this package (once per test run).
func agentBinary(tb testing.TB) string {
	tb.Helper()
	bin, err := agentBuild()
	if err != nil {
		tb.Fatal(err)
	}
	return bin
}

// runCollect runs `farmwatch-agent collect --json` with extra arguments and
// returns the raw JSON and the decoded report.
func runCollect(tb testing.TB, args ...string) ([]byte, *pb.Report) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, agentBinary(tb), append([]string{"collect", "--json"}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		tb.Fatalf("farmwatch-agent collect --json: %v\n%s", err, stderr.Bytes())
	}
	r := &pb.Report{}
	if err := protojson.Unmarshal(out, r); err != nil {
		tb.Fatalf("report is not a Report in JSON: %v\n%s", err, out)
	}
	return out, r
}
