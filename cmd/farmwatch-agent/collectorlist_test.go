package main

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/farmwatch/farmwatch/internal/testcollector"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

func TestCollectorAddrs(t *testing.T) {
	tests := []struct {
		in      string
		want    []string
		wantErr string
	}{
		{in: "collector.example.com", want: []string{"collector.example.com:7443"}},
		{in: "a.example.com:7443,b.example.com:8443", want: []string{"a.example.com:7443", "b.example.com:8443"}},
		{in: " a.example.com , b.example.com ,10.0.0.5", want: []string{"a.example.com:7443", "b.example.com:7443", "10.0.0.5:7443"}},
		{in: "[::1],[2001:db8::1]:443", want: []string{"[::1]:7443", "[2001:db8::1]:443"}},
		{in: "", wantErr: "collector address is empty"},
		{in: " , ", wantErr: "entry 1 is empty"},
		{in: "a.example.com,", wantErr: "entry 2 is empty (a stray comma?)"},
		{in: "a.example.com,,b.example.com", wantErr: "entry 2 is empty"},
		{in: "a.example.com,a.example.com:7443", wantErr: "entries 1 and 2 are both a.example.com:7443"},
		{in: "a.example.com,b.example.com,A.example.com:7443", want: []string{"a.example.com:7443", "b.example.com:7443", "A.example.com:7443"}},
		{in: "a.example.com,https://b.example.com", wantErr: "entry 2: collector address \"https://b.example.com\": want HOST or HOST:PORT, not a URL"},
		{in: "a.example.com,b.example.com:0", wantErr: "entry 2: collector address \"b.example.com:0\": port"},
		{in: "https://a.example.com", wantErr: "not a URL"},
	}
	for _, tc := range tests {
		got, err := collectorAddrs(tc.in)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("collectorAddrs(%q) = %q, %v; want an error with %q", tc.in, got, err, tc.wantErr)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("collectorAddrs(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestInstallConfigCollectorList(t *testing.T) {
	tests := []struct {
		name, json, want, wantErr string
	}{
		{name: "one", json: `"a.example.com:7443"`, want: "a.example.com:7443"},
		{name: "comma-separated", json: `"a.example.com:7443,b.example.com:7443"`, want: "a.example.com:7443,b.example.com:7443"},
		{name: "list", json: `["a.example.com:7443", "b.example.com"]`, want: "a.example.com:7443,b.example.com"},
		{name: "commas inside a list entry", json: `["a.example.com,b.example.com"]`, wantErr: "entry 1 \"a.example.com,b.example.com\": one HOST[:PORT] per entry"},
		{name: "empty list entry", json: `["a.example.com", " "]`, wantErr: "\"collector\" list, entry 2 is empty"},
		{name: "duplicate", json: `["a.example.com", "a.example.com:7443"]`, wantErr: "entries 1 and 2 are both a.example.com:7443"},
		{name: "url", json: `["a.example.com", "https://b.example.com"]`, wantErr: "not a URL"},
		{name: "number", json: `7443`, wantErr: "want \"HOST[:PORT]\", several separated by commas, or a list of them"},
		{name: "empty list", json: `[]`, wantErr: "\"collector\" (HOST:PORT) is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "agent.json")
			if err := os.WriteFile(path, []byte(`{"collector": `+tt.json+`}`), 0o600); err != nil {
				t.Fatal(err)
			}
			c, err := loadInstallConfig(path)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(c.Collector) != tt.want {
				t.Errorf("collector %q, want %q", c.Collector, tt.want)
			}
		})
	}
}

// A collector list resolves when one of its names does; the others are
// named on the warning output. When none resolves, each is in the error.
func TestResolveCollectors(t *testing.T) {
	old := lookupHost
	defer func() { lookupHost = old }()
	lookupHost = func(_ context.Context, host string) ([]string, error) {
		if host == "up.farmwatch.test" {
			return []string{"127.0.0.1", "127.0.0.2"}, nil
		}
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	ctx := context.Background()
	var warn bytes.Buffer
	if err := resolveCollectors(ctx, []string{"down.farmwatch.test:7443", "up.farmwatch.test:7443", "10.0.0.5:7443"}, &warn); err != nil {
		t.Fatalf("one name resolves, one is an address: %v", err)
	}
	if !strings.Contains(warn.String(), "cannot resolve collector host down.farmwatch.test: no such host") ||
		strings.Contains(warn.String(), "up.farmwatch.test") {
		t.Errorf("warnings:\n%s", warn.String())
	}
	warn.Reset()
	err := resolveCollectors(ctx, []string{"down.farmwatch.test:7443", "gone.farmwatch.test:7443"}, &warn)
	var dnsErr *net.DNSError
	if err == nil || !strings.Contains(err.Error(), "down.farmwatch.test") || !strings.Contains(err.Error(), "gone.farmwatch.test") ||
		errors.As(err, &dnsErr) {
		t.Fatalf("no name resolves: %v, want both named, without the resolver's wording", err)
	}
}

// TestEnrollAndRunWithCollectorList: the agent binary given two collectors,
// the first of which is down, enrolls with the second and keeps both in its
// identity; `run --once` with the list in the install config delivers to
// the second and says so; a config that names other collectors than the
// identity's wins, and the log says that too.
func TestEnrollAndRunWithCollectorList(t *testing.T) {
	c := testcollector.Start(t, nil)
	ctx := context.Background()
	if _, err := c.Admin.AddHires(ctx, &pb.AddHiresRequest{Hires: []*pb.Hire{{Id: "H-1", Name: "Ana Lee", ClaimedHome: "Austin, TX, US"}}}); err != nil {
		t.Fatal(err)
	}
	tok, err := c.Admin.CreateToken(ctx, &pb.CreateTokenRequest{HireId: "H-1"})
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := l.Addr().String() // nothing listens there once closed
	l.Close()
	state := t.TempDir()
	list := down + "," + c.Addr()
	out, code := runEnroll(t, "--collector", list, "--token", tok.GetToken(), "--ca-fingerprint", c.CA().Fingerprint(), "--state", state)
	if code != 0 {
		t.Fatalf("enroll --collector %s: exit %d\n%s", list, code, out)
	}
	idJSON, err := os.ReadFile(filepath.Join(state, "identity.json"))
	if err != nil || !strings.Contains(string(idJSON), `"collector": "`+down+`"`) ||
		!strings.Contains(string(idJSON), `"collectors": [`) || !strings.Contains(string(idJSON), `"`+c.Addr()+`"`) {
		t.Fatalf("identity after enrolling with a list: %v\n%s", err, idJSON)
	}

	runOnce := func(config string) string {
		t.Helper()
		cfgPath := filepath.Join(t.TempDir(), "agent.json")
		if err := os.WriteFile(cfgPath, []byte(config), 0o600); err != nil {
			t.Fatal(err)
		}
		rctx, cancel := context.WithTimeout(ctx, 90*time.Second)
		defer cancel()
		out, err := exec.CommandContext(rctx, agentBinary(t), "run", "--once", "--config", cfgPath, "--state", state).CombinedOutput()
		if err != nil {
			t.Fatalf("run --once: %v\n%s", err, out)
		}
		return string(out)
	}
	log := runOnce(`{"collector": ["` + down + `", "` + c.Addr() + `"]}`)
	for _, w := range []string{"collector failed; trying the next one collector=" + down + " next=" + c.Addr(),
		"delivered, 0 pending (collector " + c.Addr() + ")"} {
		if !strings.Contains(log, w) {
			t.Errorf("log lacks %q:\n%s", w, log)
		}
	}
	if strings.Contains(log, "delivering to the install config's collectors") {
		t.Errorf("the config names the identity's collectors, yet the log says it overrides them:\n%s", log)
	}
	log = runOnce(`{"collector": "` + c.Addr() + `"}`)
	for _, w := range []string{"delivering to the install config's collectors, not those the device enrolled with",
		"delivered, 0 pending (collector " + c.Addr() + ")"} {
		if !strings.Contains(log, w) {
			t.Errorf("log lacks %q:\n%s", w, log)
		}
	}
	if strings.Contains(log, "collector failed") {
		t.Errorf("the config's one collector is up, yet the log has a failover:\n%s", log)
	}
}
