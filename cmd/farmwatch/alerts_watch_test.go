package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/farmwatch/farmwatch/internal/cli"
	"github.com/farmwatch/farmwatch/internal/testcollector"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
	"github.com/farmwatch/farmwatch/sim"
)

// TestAlertEventLinesGolden: the line and the JSON object alerts watch
// prints for an event, a laptop-supplied summary's control bytes made safe.
func TestAlertEventLinesGolden(t *testing.T) {
	at := timestamppb.New(time.Date(2026, 12, 1, 9, 30, 5, 0, time.UTC))
	evs := []*pb.AlertEvent{
		{Id: 7, Type: "opened", At: at, Alert: &pb.Alert{Id: "A-000012", Kind: "device", Status: "open", Score: 0.734,
			Summary: "dev-3 (Ana Ruiz): 2 signs \x1b[31mred\x1b[0m"}},
		{Id: 8, Type: "acknowledged", At: at, Actor: "alice", PreviousScore: 0.734,
			Alert: &pb.Alert{Id: "A-000012", Kind: "device", Status: "acknowledged", Score: 0.734, Summary: "dev-3"}},
		{Id: 9, Type: "review_crossed", At: at, PreviousScore: 0.41,
			Alert: &pb.Alert{Id: "A-000013", Kind: "farm", Status: "open", Score: 0.66, PeakScore: 0.66, Summary: "Laptop farm c-1"}},
	}
	for _, asJSON := range []bool{false, true} {
		var b bytes.Buffer
		for _, ev := range evs {
			if err := printAlertEvent(&b, ev, asJSON); err != nil {
				t.Fatal(err)
			}
		}
		name := "alerts-watch.txt"
		if asJSON {
			name = "alerts-watch.jsonl"
			for i, line := range strings.Split(strings.TrimSpace(b.String()), "\n") {
				var doc map[string]any
				if err := json.Unmarshal([]byte(line), &doc); err != nil || doc["id"] != strconv.Itoa(int(evs[i].GetId())) {
					t.Errorf("line %d is not the event's JSON object: %v %s", i, err, line)
				}
			}
		}
		golden := filepath.Join("testdata", "golden", name)
		if *update {
			if err := os.WriteFile(golden, b.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatalf("%v (run go test -run TestAlertEventLinesGolden -update)", err)
		}
		if b.String() != string(want) {
			t.Errorf("alerts watch (json %v):\n%s\nwant (%s):\n%s", asJSON, b.String(), golden, want)
		}
	}
}

// TestAlertsWatchBadFlags: mistakes in the command line are usage errors.
func TestAlertsWatchBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"alerts", "watch", "--min-score", "1.5"},
		{"alerts", "watch", "--kind", "printer"},
		{"alerts", "watch", "-o", "wide"},
		{"alerts", "watch", "--since", "-3"},
	} {
		_, _, err := runCLI(t, t.TempDir(), args...)
		if cli.ExitCode(err) != cli.ExitUsage {
			t.Errorf("%v: %v (exit %d), want a usage error", args, err, cli.ExitCode(err))
		}
	}
}

// TestAlertsWatchResumesAcrossRestart: `alerts watch` runs while a fleet
// reports and the collector is stopped and started again on the same data
// dir, twice, each time right after a change: the watch reconnects and
// prints every event id of the log exactly once, in order, with no gap.
func TestAlertsWatchResumesAcrossRestart(t *testing.T) {
	saved := watchBackoff
	watchBackoff.min, watchBackoff.max = 50*time.Millisecond, 400*time.Millisecond
	t.Cleanup(func() { watchBackoff = saved })

	c := testcollector.Start(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	fp, _ := c.Options().CAFingerprint()
	fleet := sim.Plan(10, 11)
	defer fleet.Close()
	if err := fleet.Register(ctx, c.Admin); err != nil {
		t.Fatal(err)
	}
	if err := fleet.Enroll(ctx, c.Addr(), fp, 4); err != nil {
		t.Fatal(err)
	}

	// The real command, in this process: the connection flags are read
	// once, before it streams, so nothing else here touches them after.
	var out, errOut lockedLog
	root := newRoot()
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs([]string{"--data", c.Data, "alerts", "watch", "--since", "0", "-o", "json"})
	watchCtx, stopWatch := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(watchCtx) }()

	printed := func() []uint64 { return jsonEventIDs(t, out.String()) }
	waitFor := func(last uint64) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for {
			ids := printed()
			if len(ids) > 0 && ids[len(ids)-1] >= last {
				return
			}
			select {
			case err := <-done:
				t.Fatalf("alerts watch ended: %v\n%s", err, errOut.String())
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("alerts watch printed up to %v, want %d\nstderr:\n%s", ids, last, errOut.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	lastID := func() uint64 {
		id, err := c.Server.Store().LastAlertEventID()
		if err != nil {
			t.Fatal(err)
		}
		return id
	}

	send := func() {
		t.Helper()
		if _, err := fleet.Send(ctx, time.Now(), 2, 4); err != nil {
			t.Fatal(err)
		}
	}
	send()
	if lastID() == 0 {
		t.Fatal("no alert event after the first round: the test would prove nothing")
	}
	waitFor(lastID())
	for restart := range 2 {
		// A change right before the stop: its event may or may not reach
		// the watch before the stream ends; either way it is printed once.
		alerts, err := c.Admin.ListAlerts(ctx, &pb.ListAlertsRequest{Status: "open"})
		if err != nil || len(alerts.GetAlerts()) == 0 {
			t.Fatalf("open alerts: %v %v", alerts, err)
		}
		if _, err := c.Admin.AckAlert(ctx, &pb.AckAlertRequest{Id: alerts.GetAlerts()[0].GetId(), Note: "seen"}); err != nil {
			t.Fatal(err)
		}
		acked := alerts.GetAlerts()[0].GetId()
		before := lastID()
		c.Stop()
		c.Restart(t)
		// Changes after it: the fleet reports, a reviewer resolves.
		send()
		if _, err := c.Admin.ResolveAlert(ctx, &pb.ResolveAlertRequest{Id: acked, Verdict: "confirmed", Note: "restart " + strconv.Itoa(restart)}); err != nil {
			t.Fatal(err)
		}
		send()
		if lastID() <= before {
			t.Fatalf("restart %d: no new event after it (%d): the test would prove nothing", restart, before)
		}
		waitFor(lastID())
	}
	stopWatch()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("alerts watch ended with %v on Ctrl-C", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("alerts watch did not end with its context")
	}
	ids := printed()
	last := lastID()
	if uint64(len(ids)) != last {
		t.Errorf("printed %d events, the log holds %d", len(ids), last)
	}
	for i, id := range ids {
		if id != uint64(i+1) {
			t.Fatalf("event %d printed as the %dth line: every id once and in order wanted; printed %v", id, i+1, ids)
		}
	}
	if n := strings.Count(errOut.String(), "reconnecting in"); n < 2 {
		t.Errorf("alerts watch said it reconnected %d times, want at least 2:\n%s", n, errOut.String())
	}
}

// TestAlertsWatchBinaryAcrossServeRestart: the same guarantee with the real
// binaries, as an operator runs them: `farmwatch serve` is stopped (SIGINT)
// and started again on the same data dir and address while `farmwatch alerts
// watch` runs as its own process; applicant imports and acknowledgements
// before and after make the events. Every id is printed once, in order,
// and SIGINT ends the watch with status 0.
func TestAlertsWatchBinaryAcrossServeRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binaries")
	}
	bin := farmwatchBinary(t)
	data := t.TempDir()
	serve := startServe(t, bin, "--data", data, "--listen", "127.0.0.1:0")
	addrB, err := os.ReadFile(filepath.Join(data, "collector.addr"))
	if err != nil {
		t.Fatal(err)
	}
	addr := strings.TrimSpace(string(addrB))
	cliRun := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(bin, append([]string{"--data", data}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("farmwatch %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	dir := t.TempDir()
	first := filepath.Join(dir, "first.jsonl")
	writeJSONL(t, first, cliCorpus())
	cliRun("applicants", "import", first)

	watch := exec.Command(bin, "--data", data, "alerts", "watch", "--since", "0", "-o", "json")
	var out, errOut lockedLog
	watch.Stdout, watch.Stderr = &out, &errOut
	if err := watch.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { watch.Process.Kill(); watch.Wait() })
	ids := func() []uint64 { return jsonEventIDs(t, out.String()) }
	waitCount := func(n int) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for len(ids()) < n {
			if time.Now().After(deadline) {
				t.Fatalf("alerts watch printed %v, want %d events\nstderr:\n%s", ids(), n, errOut.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	openAlerts := func() []string {
		t.Helper()
		var doc struct {
			Alerts []struct {
				ID string `json:"id"`
			} `json:"alerts"`
		}
		if err := json.Unmarshal([]byte(cliRun("alerts", "list", "--status", "open", "-o", "json")), &doc); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, a := range doc.Alerts {
			out = append(out, a.ID)
		}
		return out
	}
	opened := openAlerts()
	if len(opened) < 2 {
		t.Fatalf("the ring raised %d alerts: the test would prove nothing", len(opened))
	}
	waitCount(1)

	// An acknowledgement right before the stop, then the restart.
	cliRun("alerts", "ack", opened[0], "--note", "before the restart")
	serve.Process.Signal(os.Interrupt)
	if err := serve.Wait(); err != nil {
		t.Fatalf("serve did not stop cleanly: %v", err)
	}
	startServe(t, bin, "--data", data, "--listen", addr)
	cliRun("alerts", "ack", opened[1], "--note", "after the restart")
	second := filepath.Join(dir, "second.jsonl")
	more := cliCorpus()[2:]
	for i, a := range more {
		a.Id, a.Name = fmt.Sprintf("r-%d", 10+i), fmt.Sprintf("Second Ring %d", i)
		a.Emails = []string{fmt.Sprintf("second.ring%d@gmail.com", i)}
	}
	writeJSONL(t, second, more)
	cliRun("applicants", "import", second)

	// At least one event per alert and the two acknowledgements; the tail
	// watch below shows nothing after what was printed.
	var doc struct{ Alerts []json.RawMessage }
	json.Unmarshal([]byte(cliRun("alerts", "list", "-o", "json")), &doc)
	waitCount(len(doc.Alerts) + 2)
	time.Sleep(500 * time.Millisecond) // anything more the log holds arrives too
	watch.Process.Signal(os.Interrupt)
	if err := watch.Wait(); err != nil {
		t.Errorf("alerts watch on SIGINT: %v (want exit 0)\n%s", err, errOut.String())
	}
	got := ids()
	for i, id := range got {
		if id != uint64(i+1) {
			t.Fatalf("the %dth line is event %d: every id once and in order wanted; printed %v", i+1, id, got)
		}
	}
	if !strings.Contains(errOut.String(), "reconnecting in") {
		t.Errorf("alerts watch did not say it reconnected:\n%s", errOut.String())
	}
	// Every event the log holds was printed: a watch from the last printed
	// id has nothing before the next change.
	tail := exec.Command(bin, "--data", data, "alerts", "watch", "--since", strconv.FormatUint(got[len(got)-1], 10), "-o", "json")
	var tailOut lockedLog
	tail.Stdout = &tailOut
	if err := tail.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	tail.Process.Signal(os.Interrupt)
	tail.Wait()
	if s := strings.TrimSpace(tailOut.String()); s != "" {
		t.Errorf("events after the last printed one that the watch never printed:\n%s", s)
	}
}

// jsonEventIDs is the ids of the events `alerts watch -o json` printed,
// one JSON object per line, in order.
func jsonEventIDs(t *testing.T, out string) []uint64 {
	t.Helper()
	var ids []uint64
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		var doc struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal([]byte(line), &doc); err != nil {
			t.Fatalf("alerts watch printed a line that is not JSON: %q", line)
		}
		id, err := strconv.ParseUint(doc.ID, 10, 64)
		if err != nil {
			t.Fatalf("event id %q: %v", doc.ID, err)
		}
		ids = append(ids, id)
	}
	return ids
}
