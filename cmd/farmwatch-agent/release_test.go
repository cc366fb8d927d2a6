package main

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/farmwatch/farmwatch/internal/release"
)

// The release build of the agent leaves grpc-go's request tracing out: with
// it come html/template and more, a fifth of the binary, resident
// while the service runs.
func TestReleaseBuildLeavesOutTracing(t *testing.T) {
	out, err := exec.Command("go", "list", "-tags", release.Tags, "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, pkg := range strings.Fields(string(out)) {
		switch pkg {
		case "golang.org/x/net/trace", "html/template":
			t.Errorf("the release build of farmwatch-agent links %s", pkg)
		}
	}
}
