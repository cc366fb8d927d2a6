package server_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/farmwatch/farmwatch/agent/collect"
	"github.com/farmwatch/farmwatch/agent/reporter"
	"github.com/farmwatch/farmwatch/agent/spool"
	"github.com/farmwatch/farmwatch/agent/uplink"
	"github.com/farmwatch/farmwatch/collector/analysis"
	"github.com/farmwatch/farmwatch/internal/testcollector"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// TestEndToEndVPNClient runs a process under Astrill's Linux name on this
// machine, one cycle of the real agent code against a real collector over
// mutual TLS, and checks that the collector's anonymizer rule names the
// client in the device's evidence.
func TestEndToEndVPNClient(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a process and the agent on the real machine")
	}
	dir := t.TempDir()
	exe := filepath.Join(dir, "astrill")
	copyFile(t, "/bin/sleep", exe)
	cmd := exec.Command(exe, "600")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	deadline := time.Now().Add(5 * time.Second)
	for {
		comm, err := os.ReadFile(filepath.Join("/proc", fmt.Sprint(cmd.Process.Pid), "comm"))
		if err == nil && strings.TrimSpace(string(comm)) == "astrill" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the process did not start under the name astrill")
		}
		time.Sleep(20 * time.Millisecond)
	}

	c := testcollector.Start(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	fp, err := c.Options().CAFingerprint()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Admin.AddHires(ctx, &pb.AddHiresRequest{Hires: []*pb.Hire{{
		Id: "vpn", Name: "VPN Hire", ClaimedHome: "Austin, TX, US"}}}); err != nil {
		t.Fatal(err)
	}
	tok, err := c.Admin.CreateToken(ctx, &pb.CreateTokenRequest{HireId: "vpn"})
	if err != nil {
		t.Fatal(err)
	}
	id, _, err := uplink.Enroll(ctx, uplink.EnrollOptions{Collector: c.Addr(), Token: tok.GetToken(),
		CAFingerprint: fp, Hostname: "vpn-laptop", OS: "linux"})
	if err != nil {
		t.Fatal(err)
	}
	state := t.TempDir()
	sp, err := spool.Open(filepath.Join(state, "spool.db"), 10)
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	conn, err := uplink.Dial(id)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	rep := &reporter.Reporter{Spool: sp, Conn: conn, Env: collect.HostEnv(), Interval: time.Minute}
	if err := rep.Start(); err != nil {
		t.Fatal(err)
	}
	if err := rep.Cycle(ctx); err != nil {
		t.Fatalf("agent cycle: %v", err)
	}

	dev, err := c.Admin.GetDevice(ctx, &pb.GetDeviceRequest{Id: id.DeviceID})
	if err != nil {
		t.Fatal(err)
	}
	var ev *pb.Evidence
	for _, e := range dev.GetEvidence() {
		if e.GetRule() == analysis.RuleAnonymizer {
			ev = e
		}
	}
	if ev == nil {
		t.Fatalf("no %s evidence; evidence %v; stored vpn_clients %v", analysis.RuleAnonymizer, dev.GetEvidence(),
			storedVPNClients(dev))
	}
	if got := ev.GetFacts()["vpn_client.astrill-vpn"]; got != "astrill" {
		t.Errorf("fact vpn_client.astrill-vpn = %q, want the process astrill; facts %v", got, ev.GetFacts())
	}
	if !strings.Contains(ev.GetExplanation(), "VPN client Astrill VPN") {
		t.Errorf("explanation %q does not name Astrill VPN", ev.GetExplanation())
	}
}

func storedVPNClients(dev *pb.DeviceDetail) []*pb.ToolMatch {
	if rs := dev.GetRecentReports(); len(rs) > 0 {
		return rs[0].GetReport().GetVpnClients()
	}
	return nil
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Skipf("no %s to copy: %v", src, err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}
