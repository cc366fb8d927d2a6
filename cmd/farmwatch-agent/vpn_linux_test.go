package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// TestRealMachineVPNClient runs a process under the Linux name of a
// catalogued VPN client (Astrill's "astrill": a copy of sleep) and checks
// that `farmwatch-agent collect --json` reports the client as running, with
// the process's pid and path; and, once the process has ended, that it no
// longer does.
func TestRealMachineVPNClient(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the agent binary on the real machine")
	}
	agentBinary(t) // build first, so the process is not left waiting
	dir := t.TempDir()
	exe := filepath.Join(dir, "astrill")
	copyExecutable(t, "/bin/sleep", exe)
	cmd := exec.Command(exe, "600")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop := func() {
		if !stopped {
			cmd.Process.Kill()
			cmd.Wait()
			stopped = true
		}
	}
	t.Cleanup(stop)
	pid := cmd.Process.Pid
	if !waitFor(5*time.Second, func() bool {
		comm, err := os.ReadFile(filepath.Join("/proc", fmt.Sprint(pid), "comm"))
		return err == nil && strings.TrimSpace(string(comm)) == "astrill"
	}) {
		t.Fatal("the process did not start under the name astrill")
	}

	_, r := runCollect(t)
	m := vpnClient(r, "astrill-vpn")
	if m == nil {
		t.Fatalf("astrill-vpn not among vpn_clients while pid %d runs: %v (errors %v)", pid, r.GetVpnClients(), r.GetErrors())
	}
	if m.GetPid() != int32(pid) || m.GetProcess() != "astrill" || m.GetPath() != exe ||
		!slices.Contains(m.GetSeen(), "running") || m.GetName() != "Astrill VPN" {
		t.Errorf("astrill-vpn = %v; want pid %d, process astrill, path %s, seen running", m, pid, exe)
	}

	stop()
	_, r = runCollect(t)
	if m := vpnClient(r, "astrill-vpn"); m != nil && (m.GetPid() != 0 || slices.Contains(m.GetSeen(), "running")) {
		t.Errorf("astrill-vpn still reported running after the process ended: %v", m)
	}
	if m := vpnClient(r, "astrill-vpn"); m != nil {
		// Only a real Astrill install on this machine may keep it listed.
		if _, err := os.Stat("/usr/local/Astrill/astrill"); err != nil {
			t.Errorf("astrill-vpn reported with no process and no install: %v", m)
		}
	}
}

func vpnClient(r *pb.Report, id string) *pb.ToolMatch {
	for _, m := range r.GetVpnClients() {
		if m.GetToolId() == id {
			return m
		}
	}
	return nil
}
