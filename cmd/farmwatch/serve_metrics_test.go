package main

import (
	"errors"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestServeMetricsListen runs `farmwatch serve --metrics-listen` as an
// operator does: /metrics, /healthz and /readyz answer on the address, and an
// address in use fails the start with exit status 1 and a message naming the
// flag.
func TestServeMetricsListen(t *testing.T) {
	bin := farmwatchBinary(t)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close() // free again for the collector (a port of the kernel's choosing, unused since)

	data := t.TempDir()
	startServe(t, bin, "--data", data, "--listen", "127.0.0.1:0", "--metrics-listen", addr)
	var ready string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				ready = string(b)
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz not 200 within 10 s: %v", err)
		}
	}
	if strings.TrimSpace(ready) != "ok" {
		t.Errorf("/readyz body %q", ready)
	}
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`farmwatch_build_info{goversion="go`, "farmwatch_reports_ingested_total 0", `farmwatch_devices{state="reporting"} 0`, "process_resident_memory_bytes"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}

	// A second collector on another data dir, but the same metrics address.
	out, err := exec.Command(bin, "serve", "--data", t.TempDir(), "--listen", "127.0.0.1:0", "--metrics-listen", addr).CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("serve with a metrics address in use: %v, want exit status 1\n%s", err, out)
	}
	if !strings.Contains(string(out), "--metrics-listen "+addr) || !strings.Contains(string(out), "address already in use") {
		t.Errorf("serve with a metrics address in use says:\n%s", out)
	}
}
