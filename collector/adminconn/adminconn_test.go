package adminconn_test

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/farmwatch/farmwatch/collector/adminconn"
	"github.com/farmwatch/farmwatch/collector/server"
	"github.com/farmwatch/farmwatch/internal/testcollector"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// TestAddrFileOfUnspecifiedListen: a collector listening on every interface
// writes a loopback address its own certificate names into
// DATA/collector.addr, so that the CLI on the same host connects.
func TestAddrFileOfUnspecifiedListen(t *testing.T) {
	tests := []struct {
		listen   string
		wantHost string
	}{
		{"0.0.0.0:0", "127.0.0.1"},
		{":0", "127.0.0.1"},
		{"[::]:0", "::1"},
		{"127.0.0.1:0", "127.0.0.1"},
	}
	for _, tc := range tests {
		t.Run(tc.listen, func(t *testing.T) {
			if tc.wantHost == "::1" && !haveIPv6Loopback() {
				t.Skip("no IPv6 loopback on this machine")
			}
			c := testcollector.Start(t, func(cfg *server.Config) { cfg.Listen = tc.listen })
			b, err := os.ReadFile(filepath.Join(c.Data, server.AddrFile))
			if err != nil {
				t.Fatal(err)
			}
			addr := strings.TrimSpace(string(b))
			host, port, err := net.SplitHostPort(addr)
			if err != nil {
				t.Fatalf("%s holds %q: %v", server.AddrFile, addr, err)
			}
			if host != tc.wantHost || port == "0" {
				t.Fatalf("--listen %s: %s holds %q, want %s and the port listened on", tc.listen, server.AddrFile, addr, tc.wantHost)
			}
			// The CLI's own path: address file, TLS with the collector CA, admin call.
			admin, closeFn, err := adminconn.Dial(adminconn.Options{Data: c.Data})
			if err != nil {
				t.Fatal(err)
			}
			defer closeFn()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if _, err := admin.ListHires(ctx, &pb.ListHiresRequest{}); err != nil {
				t.Fatalf("--listen %s: admin call through %s: %v", tc.listen, addr, err)
			}
		})
	}
}

// TestAddrOfOlderAddrFile: an address file an older collector wrote with
// the unspecified address still leads to a dialable one.
func TestAddrOfOlderAddrFile(t *testing.T) {
	for in, want := range map[string]string{
		"[::]:7443\n":       "[::1]:7443",
		"0.0.0.0:7443":      "127.0.0.1:7443",
		":7443":             "127.0.0.1:7443",
		"10.0.0.5:7443":     "10.0.0.5:7443",
		"collector:7443":    "collector:7443",
		"[2001:db8::1]:443": "[2001:db8::1]:443",
	} {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, server.AddrFile), []byte(in), 0o644)
		got, err := adminconn.Options{Data: dir}.Addr()
		if err != nil || got != want {
			t.Errorf("address file %q: Addr() = %q, %v; want %q", in, got, err, want)
		}
	}
}

func haveIPv6Loopback() bool {
	l, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		return false
	}
	l.Close()
	return true
}

// TestIdentity reads the name and role from the admin certificate the
// options lead to: the data dir's, a --cert file, a profile's copy.
func TestIdentity(t *testing.T) {
	c := testcollector.Start(t, nil)
	name, role, err := c.Options().Identity()
	if err != nil || name != "local-operator" || role != "reviewer" {
		t.Fatalf("data dir: %q %q %v", name, role, err)
	}
	certPEM, keyPEM, err := c.CA().IssueAdmin("auditor", "viewer", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cert := filepath.Join(dir, "auditor.pem")
	os.WriteFile(cert, certPEM, 0o600)
	o := adminconn.Options{Data: c.Data, Cert: cert}
	if name, role, err = o.Identity(); err != nil || name != "auditor" || role != "viewer" {
		t.Fatalf("--cert: %q %q %v", name, role, err)
	}
	o = adminconn.Options{Profile: &adminconn.Profile{Cert: string(certPEM), Key: string(keyPEM)}}
	if name, role, err = o.Identity(); err != nil || name != "auditor" || role != "viewer" {
		t.Fatalf("profile: %q %q %v", name, role, err)
	}
	o = adminconn.Options{Data: t.TempDir()}
	if _, _, err = o.Identity(); err == nil || !strings.Contains(err.Error(), "give --cert and --key, or --profile NAME") {
		t.Fatalf("no certificate: %v", err)
	}
}
