package main

import (
	"context"
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

// TestRunLogsIntervalInEffect: the agent's start-up line gives the report
// interval in effect and where it comes from (the collector's, from
// enrollment), and an install config's report_interval the collector
// overrides is logged as overridden.
func TestRunLogsIntervalInEffect(t *testing.T) {
	c := testcollector.Start(t, func(cfg *server.Config) { cfg.ReportInterval = time.Hour })
	ctx := context.Background()
	if _, err := c.Admin.AddHires(ctx, &pb.AddHiresRequest{Hires: []*pb.Hire{{Id: "H-1", Name: "Ana Lee", ClaimedHome: "Austin, TX, US"}}}); err != nil {
		t.Fatal(err)
	}
	tok, err := c.Admin.CreateToken(ctx, &pb.CreateTokenRequest{HireId: "H-1"})
	if err != nil {
		t.Fatal(err)
	}
	state := t.TempDir()
	if out, code := runEnroll(t, "--collector", c.Addr(), "--token", tok.GetToken(), "--ca-fingerprint", c.CA().Fingerprint(), "--state", state); code != 0 {
		t.Fatalf("enroll: exit %d\n%s", code, out)
	}
	for _, tc := range []struct {
		name, config string
		want         []string
		notWant      []string
	}{
		{
			name:   "install config sets 10m",
			config: `{"collector": "` + c.Addr() + `", "report_interval": "10m"}`,
			want: []string{
				`WARN the install config's report_interval is overridden by the collector's interval (farmwatch serve --report-interval) report_interval=10m0s in_effect=1h0m0s`,
				"INFO farmwatch-agent running ", `interval=1h0m0s interval_from=collector`,
			},
			// The first run after enroll finds the spool enroll made.
			notWant: []string{"no spool found"},
		},
		{
			name:    "install config sets none",
			config:  `{"collector": "` + c.Addr() + `"}`,
			want:    []string{"INFO farmwatch-agent running ", `interval=1h0m0s interval_from=collector`},
			notWant: []string{"overridden"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfgPath := filepath.Join(t.TempDir(), "agent.json")
			if err := os.WriteFile(cfgPath, []byte(tc.config), 0o600); err != nil {
				t.Fatal(err)
			}
			rctx, cancel := context.WithTimeout(ctx, 90*time.Second)
			defer cancel()
			out, err := exec.CommandContext(rctx, agentBinary(t), "run", "--once", "--config", cfgPath, "--state", state).CombinedOutput()
			if err != nil {
				t.Fatalf("run --once: %v\n%s", err, out)
			}
			log := string(out)
			for _, w := range tc.want {
				if !strings.Contains(log, w) {
					t.Errorf("log lacks %q:\n%s", w, log)
				}
			}
			for _, nw := range tc.notWant {
				if strings.Contains(log, nw) {
					t.Errorf("log has %q:\n%s", nw, log)
				}
			}
		})
	}
}
