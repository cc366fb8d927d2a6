package main

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/farmwatch/farmwatch/collector/server"
	"github.com/farmwatch/farmwatch/internal/testcollector"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

func TestCollectorAddr(t *testing.T) {
	tests := []struct{ in, want, wantErr string }{
		{in: "collector.example.com", want: "collector.example.com:7443"},
		{in: "collector.example.com:8443", want: "collector.example.com:8443"},
		{in: " collector.example.com:7443 ", want: "collector.example.com:7443"},
		{in: "10.0.0.5", want: "10.0.0.5:7443"},
		{in: "::1", want: "[::1]:7443"},
		{in: "[::1]", want: "[::1]:7443"},
		{in: "[2001:db8::1]:443", want: "[2001:db8::1]:443"},
		{in: "", wantErr: "empty"},
		{in: ":7443", wantErr: "want HOST"},
		{in: "collector.example.com:", wantErr: "port"},
		{in: "collector.example.com:0", wantErr: "port"},
		{in: "collector.example.com:https", wantErr: "port"},
		{in: "collector.example.com:70000", wantErr: "port"},
		{in: "https://collector.example.com", wantErr: "want HOST"},
		{in: "a:b:c", wantErr: "want HOST"},
		{in: "[collector", wantErr: "want HOST"},
	}
	for _, tc := range tests {
		got, err := collectorAddr(tc.in)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("collectorAddr(%q) = %q, %v; want an error with %q", tc.in, got, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("collectorAddr(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

// FuzzCollectorAddr: any operator input gives an error or a HOST:PORT that
// splits back into a host and a port from 1 to 65535.
func FuzzCollectorAddr(f *testing.F) {
	for _, s := range []string{"collector.example.com", "c:7443", "::1", "[::1]:1", "[", "]:", "a b:1", "%", "[fe80::1%eth0]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		addr, err := collectorAddr(s)
		if err != nil {
			return
		}
		host, port, err := net.SplitHostPort(addr)
		if err != nil || host == "" || port == "" || port == "0" {
			t.Fatalf("collectorAddr(%q) = %q: not HOST:PORT (%v)", s, addr, err)
		}
	})
}

// runEnroll runs the agent binary's enroll and returns its output and exit
// status.
func runEnroll(t *testing.T, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, agentBinary(t), append([]string{"enroll"}, args...)...).CombinedOutput()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return string(out), 0
	case errors.As(err, &exit):
		return string(out), exit.ExitCode()
	}
	t.Fatalf("farmwatch-agent enroll: %v\n%s", err, out)
	return "", -1
}

// TestEnrollUnresolvableCollector: a host name that does not resolve is
// named as such, with exit status 1, not as gRPC's resolver error after the
// enrollment timeout.
func TestEnrollUnresolvableCollector(t *testing.T) {
	// .invalid never resolves (RFC 6761).
	out, code := runEnroll(t, "--collector", "collector.farmwatch.invalid", "--token", "fwt_x", "--state", t.TempDir())
	if code != 1 || !strings.Contains(out, "cannot resolve collector host collector.farmwatch.invalid") {
		t.Fatalf("enroll with an unresolvable host: exit %d, want 1 and a resolve error:\n%s", code, out)
	}
	if strings.Contains(out, "name resolver") || strings.Contains(out, "Unavailable") {
		t.Errorf("raw gRPC wording in the error:\n%s", out)
	}
	t.Logf("%s", strings.TrimSpace(out))
}

// TestEnrollDefaultPort: --collector HOST without a port enrolls with the
// collector on its default port, 7443.
func TestEnrollDefaultPort(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:7443")
	if err != nil {
		t.Skipf("port 7443 is taken on this machine: %v", err)
	}
	l.Close()
	c := testcollector.Start(t, func(cfg *server.Config) { cfg.Listen = "127.0.0.1:7443" })
	ctx := context.Background()
	if _, err := c.Admin.AddHires(ctx, &pb.AddHiresRequest{Hires: []*pb.Hire{{Id: "H-1", Name: "Ana Lee", ClaimedHome: "Austin, TX, US"}}}); err != nil {
		t.Fatal(err)
	}
	tok, err := c.Admin.CreateToken(ctx, &pb.CreateTokenRequest{HireId: "H-1"})
	if err != nil {
		t.Fatal(err)
	}
	state := t.TempDir()
	out, code := runEnroll(t, "--collector", "127.0.0.1", "--token", tok.GetToken(), "--ca-fingerprint", c.CA().Fingerprint(), "--state", state)
	if code != 0 {
		t.Fatalf("enroll --collector 127.0.0.1: exit %d\n%s", code, out)
	}
	id, err := os.ReadFile(filepath.Join(state, "identity.json"))
	if err != nil || !strings.Contains(string(id), `"collector": "127.0.0.1:7443"`) {
		t.Fatalf("identity after enroll without a port: %v\n%s", err, id)
	}
}
