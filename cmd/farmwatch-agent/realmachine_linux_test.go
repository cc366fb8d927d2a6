package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// TestRealMachineVNC runs a real VNC server on a virtual X display, connects
// a VNC client to it over loopback, and checks that `farmwatch-agent collect
// --json` reports the server from the catalog with its listening port, the
// client's connection and its RTT, next to the machine's own network and
// time zone. The packages come from scripts/ci-packages.sh.
func TestRealMachineVNC(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Xvfb and x11vnc and runs the agent binary")
	}
	for _, bin := range []string{"Xvfb", "x11vnc"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("%s is not installed (scripts/ci-packages.sh installs xvfb and x11vnc): skipping the real-machine test", bin)
		}
	}
	agentBinary(t) // build before the servers start so they are not kept waiting

	display := startXvfb(t)
	port := freeLoopbackPort(t, 5959)
	vnc := startProcess(t, "x11vnc", "-display", display, "-rfbport", fmt.Sprint(port), "-localhost",
		"-forever", "-shared", "-nopw", "-noipv6", "-quiet")
	client := rfbHandshake(t, port)
	clientPort := uint32(client.LocalAddr().(*net.TCPAddr).Port)

	_, r := runCollect(t)
	for _, e := range r.GetErrors() {
		t.Logf("collector %s: %s", e.GetCollector(), e.GetError())
	}

	var tool *pb.ToolMatch
	for _, m := range r.GetRemoteAccess().GetTools() {
		if m.GetToolId() == "x11vnc" && m.GetPid() == int32(vnc.Process.Pid) {
			tool = m
		}
	}
	if tool == nil {
		t.Fatalf("x11vnc (pid %d) not among the reported tools: %v", vnc.Process.Pid, r.GetRemoteAccess().GetTools())
	}
	listening := false
	for _, s := range tool.GetListening() {
		if s.GetPort() == uint32(port) && s.GetAddress() == "127.0.0.1" {
			listening = true
		}
	}
	if !listening {
		t.Errorf("x11vnc listening on 127.0.0.1:%d not reported: %v", port, tool.GetListening())
	}
	var conn *pb.Connection
	for _, c := range tool.GetConnections() {
		if c.GetRemoteAddress() == "127.0.0.1" && c.GetRemotePort() == clientPort && c.GetLocalPort() == uint32(port) {
			conn = c
		}
	}
	if conn == nil {
		t.Fatalf("the client's connection from 127.0.0.1:%d not reported: %v", clientPort, tool.GetConnections())
	}
	if conn.GetState() != "established" || conn.GetRttUs() == 0 {
		t.Errorf("connection %v: want established with rtt_us > 0 (inet_diag)", conn)
	}
	t.Logf("x11vnc pid %d: listening %v, connection %v", tool.GetPid(), tool.GetListening(), conn)

	gw := procNetRouteGateway(t)
	if got := r.GetNetwork().GetDefaultGateway(); got != gw {
		t.Errorf("default gateway %q, /proc/net/route says %q", got, gw)
	}
	nonLoopback := false
	for _, i := range r.GetNetwork().GetInterfaces() {
		if i.GetName() != "lo" && i.GetKind() != "loopback" {
			nonLoopback = true
		}
	}
	if !nonLoopback {
		t.Errorf("no interface besides loopback: %v", r.GetNetwork().GetInterfaces())
	}
	if want := machineZone(t); r.GetLocale().GetTimeZone() != want {
		t.Errorf("time zone %q, the machine says %q", r.GetLocale().GetTimeZone(), want)
	}
}

// startXvfb starts a virtual X server on the first free display from :99 down.
func startXvfb(t *testing.T) string {
	t.Helper()
	for n := 99; n >= 90; n-- {
		if !displayFree(n) {
			continue
		}
		display := fmt.Sprintf(":%d", n)
		cmd := startProcess(t, "Xvfb", display, "-screen", "0", "640x480x24", "-nolisten", "tcp")
		sock := filepath.Join("/tmp/.X11-unix", fmt.Sprintf("X%d", n))
		if waitFor(5*time.Second, func() bool {
			c, err := net.Dial("unix", sock)
			if err == nil {
				c.Close()
			}
			return err == nil
		}) {
			return display
		}
		cmd.Process.Kill()
	}
	t.Fatal("Xvfb did not start on any display :90-:99")
	return ""
}

// displayFree tells whether display :n can be used: no lock file, or a
// stale one left by an X server that was killed (its pid is gone), which
// is removed.
func displayFree(n int) bool {
	lock := fmt.Sprintf("/tmp/.X%d-lock", n)
	b, err := os.ReadFile(lock)
	if os.IsNotExist(err) {
		return true
	}
	if err != nil {
		return false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return false
	}
	if syscall.Kill(pid, 0) == nil || !errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) {
		return false // alive, or not ours to signal
	}
	os.Remove(fmt.Sprintf("/tmp/.X11-unix/X%d", n))
	return os.Remove(lock) == nil
}

// startProcess starts a server in the foreground of the test and stops it
// at cleanup (SIGTERM, so an X server removes its lock; SIGKILL after 2 s).
func startProcess(t *testing.T, name string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(name, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(2 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("%s output:\n%s", name, out.String())
		}
	})
	return cmd
}

func waitFor(d time.Duration, ok func() bool) bool {
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if ok() {
			return true
		}
	}
	return false
}

// freeLoopbackPort returns the preferred port when it is free, else any.
func freeLoopbackPort(t *testing.T, preferred int) int {
	t.Helper()
	for _, p := range []int{preferred, 0} {
		ln, err := net.Listen("tcp4", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			continue
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		return port
	}
	t.Fatal("no free loopback port")
	return 0
}

// rfbHandshake connects a VNC client (RFB 3.8, security type None, shared)
// and keeps the connection open until cleanup.
func rfbHandshake(t *testing.T, port int) net.Conn {
	t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	var c net.Conn
	if !waitFor(10*time.Second, func() bool {
		var err error
		c, err = net.DialTimeout("tcp4", addr, time.Second)
		return err == nil
	}) {
		t.Fatalf("x11vnc does not accept connections on %s", addr)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	defer c.SetDeadline(time.Time{})
	banner := make([]byte, 12)
	if _, err := io.ReadFull(c, banner); err != nil {
		t.Fatalf("read RFB banner: %v", err)
	}
	if string(banner) != "RFB 003.008\n" {
		t.Fatalf("banner %q, want RFB 003.008", banner)
	}
	fatal := func(step string, err error) {
		if err != nil {
			t.Fatalf("RFB %s: %v", step, err)
		}
	}
	_, err := c.Write(banner)
	fatal("version", err)
	var n [1]byte
	_, err = io.ReadFull(c, n[:])
	fatal("security types", err)
	types := make([]byte, n[0])
	_, err = io.ReadFull(c, types)
	fatal("security types", err)
	if !bytes.Contains(types, []byte{1}) {
		t.Fatalf("security types %v lack None (x11vnc -nopw)", types)
	}
	_, err = c.Write([]byte{1})
	fatal("choose None", err)
	var result [4]byte
	_, err = io.ReadFull(c, result[:])
	fatal("security result", err)
	if binary.BigEndian.Uint32(result[:]) != 0 {
		t.Fatalf("security result %x", result)
	}
	_, err = c.Write([]byte{1}) // ClientInit: shared
	fatal("ClientInit", err)
	var init [24]byte // width, height, pixel format, name length
	_, err = io.ReadFull(c, init[:])
	fatal("ServerInit", err)
	_, err = io.CopyN(io.Discard, c, int64(binary.BigEndian.Uint32(init[20:])))
	fatal("ServerInit name", err)
	return c
}

// procNetRouteGateway reads the IPv4 default gateway straight from the kernel.
func procNetRouteGateway(t *testing.T) string {
	t.Helper()
	f, err := os.Open("/proc/net/route")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 8 || fields[1] != "00000000" || fields[7] != "00000000" {
			continue
		}
		b, err := hex.DecodeString(fields[2])
		if err != nil || len(b) != 4 {
			continue
		}
		// The kernel prints the address as a host-order (little-endian) word.
		return netip.AddrFrom4([4]byte{b[3], b[2], b[1], b[0]}).String()
	}
	return ""
}

// machineZone is the IANA zone the machine says it is in.
func machineZone(t *testing.T) string {
	t.Helper()
	if target, err := os.Readlink("/etc/localtime"); err == nil {
		if i := strings.Index(target, "zoneinfo/"); i >= 0 {
			return target[i+len("zoneinfo/"):]
		}
	}
	if b, err := os.ReadFile("/etc/timezone"); err == nil {
		return strings.TrimSpace(string(b))
	}
	t.Skip("the machine names no IANA time zone")
	return ""
}
