package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/farmwatch/farmwatch/internal/testcollector"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
	"github.com/farmwatch/farmwatch/sim"
)

// runCLI runs the farmwatch command in-process against a collector.
func runCLI(t *testing.T, data string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	root := newRoot()
	var out, errb bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errb)
	root.SetArgs(append([]string{"--data", data}, args...))
	err = root.ExecuteContext(context.Background())
	return out.String(), errb.String(), err
}

func TestHiresImportAllOrNothing(t *testing.T) {
	c := testcollector.Start(t, nil)
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.csv")
	os.WriteFile(bad, []byte("id,name,claimed_home\nh1,Ana,\"Austin, TX, US\"\nh2,,\"Austin, TX, US\"\nh3,Cy,\"Atlantis, ZZ, QQ\"\n"), 0o644)
	_, stderr, err := runCLI(t, c.Data, "hires", "import", bad)
	if err == nil || !strings.Contains(err.Error(), "2 error(s)") || !strings.Contains(err.Error(), "nothing was imported") {
		t.Fatalf("import of a bad file: %v", err)
	}
	for _, want := range []string{"bad.csv:3: name: missing", "bad.csv:4: claimed_home: "} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	list, _ := c.Admin.ListHires(context.Background(), &pb.ListHiresRequest{})
	if len(list.GetHires()) != 0 {
		t.Fatalf("%d hires stored after a refused import", len(list.GetHires()))
	}

	good := filepath.Join(dir, "good.csv")
	os.WriteFile(good, []byte("id,name,claimed_home,start_date\nh1,Ana,\"Austin, TX, US\",2026-12-01\nh2,Bo,\"Toronto, ON, CA\",\n"), 0o644)
	stdout, _, err := runCLI(t, c.Data, "hires", "import", good)
	if err != nil || !strings.Contains(stdout, "imported 2 hires") {
		t.Fatalf("import: %v\n%s", err, stdout)
	}
	stdout, _, err = runCLI(t, c.Data, "hires", "list", "--output", "json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Hires []struct {
			ID   string `json:"id"`
			Home struct {
				TimeZone string `json:"time_zone"`
			} `json:"home"`
		} `json:"hires"`
	}
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
		t.Fatalf("hires list --output json is not JSON: %v\n%s", err, stdout)
	}
	if len(doc.Hires) != 2 || doc.Hires[1].Home.TimeZone != "America/Toronto" {
		t.Fatalf("json hires: %+v", doc)
	}
}

func TestTokensAndListsThroughCLI(t *testing.T) {
	c := testcollector.Start(t, nil)
	if _, _, err := runCLI(t, c.Data, "hires", "add", "--id", "h1", "--name", "Ana Lee", "--claimed-home", "Seattle, WA, US"); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, err := runCLI(t, c.Data, "tokens", "create", "--hire", "h1")
	if err != nil || !strings.HasPrefix(stdout, "fwt_") || !strings.Contains(stderr, "shown only once") {
		t.Fatalf("tokens create: %v %q %q", err, stdout, stderr)
	}
	if _, _, err := runCLI(t, c.Data, "tokens", "create", "--hire", "nobody"); err == nil || !strings.Contains(err.Error(), `hire "nobody" does not exist`) {
		t.Fatalf("token for a missing hire: %v", err)
	}
	for _, args := range [][]string{{"devices", "list"}, {"alerts", "list"}, {"alerts", "list", "--status", "open", "--min-score", "0.5"}, {"hires", "show", "h1"}} {
		for _, o := range []string{"table", "json"} {
			if _, _, err := runCLI(t, c.Data, append(args, "--output", o)...); err != nil {
				t.Errorf("%v --output %s: %v", args, o, err)
			}
		}
	}
	if _, _, err := runCLI(t, c.Data, "alerts", "list", "--output", "yaml"); err == nil || !strings.Contains(err.Error(), "want table, json or wide") {
		t.Errorf("bad --output: %v", err)
	}
	if _, _, err := runCLI(t, c.Data, "alerts", "list", "--status", "closed"); err == nil || !strings.Contains(err.Error(), "want open, acknowledged or resolved") {
		t.Errorf("bad --status: %v", err)
	}
	if _, _, err := runCLI(t, c.Data, "alerts", "show", "A-999999"); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("missing alert: %v", err)
	}
}

func TestCLIWithoutCollectorSaysWhatToDo(t *testing.T) {
	_, _, err := runCLI(t, t.TempDir(), "alerts", "list")
	if err == nil || !strings.Contains(err.Error(), "give --server HOST:PORT, or --data DIR of a running collector") {
		t.Fatalf("error %v", err)
	}
}

func TestReviewerCommands(t *testing.T) {
	c := testcollector.Start(t, nil)
	ctx := context.Background()
	fp, _ := c.Options().CAFingerprint()
	fleet := sim.Plan(8, 5)
	defer fleet.Close()
	if err := fleet.Register(ctx, c.Admin); err != nil {
		t.Fatal(err)
	}
	if err := fleet.Enroll(ctx, c.Addr(), fp, 4); err != nil {
		t.Fatal(err)
	}
	for round := 0; round < 2; round++ {
		if _, err := fleet.Send(ctx, time.Now(), 1, 4); err != nil {
			t.Fatal(err)
		}
	}
	out, _, err := runCLI(t, c.Data, "clusters", "list", "--farms")
	if err != nil || !strings.Contains(out, "C-000001") || !strings.Contains(out, "yes") {
		t.Fatalf("clusters list: %v\n%s", err, out)
	}
	out, _, err = runCLI(t, c.Data, "clusters", "show", "C-000001")
	if err != nil || !strings.Contains(out, "LAPTOP FARM") || !strings.Contains(out, "gateway mac") || !strings.Contains(out, "KM TO OBSERVED PLACE") ||
		!strings.HasSuffix(out, "\nIP Geolocation by DB-IP\n") {
		t.Fatalf("clusters show: %v\n%s", err, out)
	}
	resp, _ := c.Admin.ListAlerts(ctx, &pb.ListAlertsRequest{Status: "open", MinScore: 0.5})
	if len(resp.GetAlerts()) == 0 {
		t.Fatal("no alerts to review")
	}
	id := resp.GetAlerts()[0].GetId()
	out, _, err = runCLI(t, c.Data, "alerts", "show", id)
	if err != nil || !strings.Contains(out, "Evidence (log-odds added to the prior now, and at most)") ||
		!regexp.MustCompile(`\+\d\.\d\d \(peak \+\d\.\d\d\)  \S+ \[(proof|weak|farm)\]`).MatchString(out) ||
		!strings.Contains(out, "peak") || !strings.HasSuffix(out, "\nIP Geolocation by DB-IP\n") {
		t.Fatalf("alerts show: %v\n%s", err, out)
	}
	// The queue: highest peak first, with peak and current score.
	out, _, err = runCLI(t, c.Data, "alerts", "list", "--min-peak", "0.5")
	if err != nil || !strings.Contains(out, "PEAK") || !strings.Contains(out, "NOW") || !strings.Contains(out, id) {
		t.Fatalf("alerts list --min-peak: %v\n%s", err, out)
	}
	if _, _, err := runCLI(t, c.Data, "alerts", "list", "--sort", "loudest"); err == nil {
		t.Fatal("alerts list --sort loudest accepted")
	}
	if _, _, err := runCLI(t, c.Data, "alerts", "list", "--min-peak", "1.5"); err == nil {
		t.Fatal("alerts list --min-peak 1.5 accepted")
	}
	if _, _, err := runCLI(t, c.Data, "alerts", "ack", id, "--note", "looking"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := runCLI(t, c.Data, "alerts", "resolve", id, "--verdict", "confirmed"); err == nil || !strings.Contains(err.Error(), "--note is required") {
		t.Fatalf("resolve without note: %v", err)
	}
	out, _, err = runCLI(t, c.Data, "alerts", "resolve", id, "--verdict", "confirmed", "--note", "farm")
	if err != nil || !strings.Contains(out, "resolved: confirmed") {
		t.Fatalf("resolve: %v %s", err, out)
	}
	out, _, err = runCLI(t, c.Data, "audit", "--subject", id)
	if err != nil || !strings.Contains(out, "alert.resolve") || !strings.Contains(out, "alert.ack") || !strings.Contains(out, "local-operator") {
		t.Fatalf("audit: %v\n%s", err, out)
	}
	out, _, err = runCLI(t, c.Data, "model", "fit")
	if err != nil || !strings.Contains(out, "Fitted on 1 confirmed and 0 false-positive") || !strings.Contains(out, "Nothing changed") {
		t.Fatalf("model fit: %v\n%s", err, out)
	}
	var dev string
	for _, d := range fleet.Devices {
		if d.Scenario == sim.Farm {
			dev = d.ID()
		}
	}
	out, _, err = runCLI(t, c.Data, "devices", "show", dev)
	if err != nil || !strings.Contains(out, "net.colocated") || !strings.Contains(out, "Timeline of recent reports") || !strings.Contains(out, "AnyDesk") ||
		!strings.Contains(out, "spool:    no epoch (an agent that predates spool epochs), last seq 2, 1 spool seen") {
		t.Fatalf("devices show: %v\n%s", err, out)
	}
	out, _, err = runCLI(t, c.Data, "hires", "update", fleet.Devices[len(fleet.Devices)-1].Hire.GetId(), "--claimed-home", "Lisbon, PT", "--note", "moved")
	if err != nil || !strings.Contains(out, "Europe/Lisbon") {
		t.Fatalf("hires update: %v\n%s", err, out)
	}
	out, _, err = runCLI(t, c.Data, "model", "config", "--defaults")
	if err != nil || !regexp.MustCompile(`net\.colocated: +3\.6 +# proof`).MatchString(out) {
		t.Fatalf("model config: %v", err)
	}
}

func TestBackupAndAdminIssueThroughCLI(t *testing.T) {
	c := testcollector.Start(t, nil)
	if _, _, err := runCLI(t, c.Data, "hires", "add", "--id", "h1", "--name", "Ana", "--claimed-home", "Austin, TX, US"); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "backup.db")
	stdout, _, err := runCLI(t, c.Data, "backup", out)
	if err != nil || !strings.Contains(stdout, "backup of") {
		t.Fatalf("backup: %v %s", err, stdout)
	}
	if st, err := os.Stat(out); err != nil || st.Mode().Perm() != 0o600 || st.Size() == 0 {
		t.Fatalf("backup file: %v %v", st, err)
	}
	dir := t.TempDir()
	stdout, _, err = runCLI(t, c.Data, "admin", "issue", "--name", "auditor", "--role", "viewer", "--pem-dir", dir, "--out", filepath.Join(dir, "auditor.profile.yaml"))
	if err != nil || !strings.Contains(stdout, "viewer certificate for auditor") {
		t.Fatalf("admin issue: %v %s", err, stdout)
	}
	if st, err := os.Stat(filepath.Join(dir, "auditor-key.pem")); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", st, err)
	}
	// The new viewer reads, and may not change anything.
	viewerArgs := []string{"--server", c.Addr(), "--ca", filepath.Join(dir, "ca.pem"), "--cert", filepath.Join(dir, "auditor.pem"), "--key", filepath.Join(dir, "auditor-key.pem")}
	if stdout, _, err := runCLI(t, t.TempDir(), append(viewerArgs, "hires", "list")...); err != nil || !strings.Contains(stdout, "Ana") {
		t.Fatalf("viewer hires list: %v %s", err, stdout)
	}
	if _, _, err := runCLI(t, t.TempDir(), append(viewerArgs, "tokens", "create", "--hire", "h1")...); err == nil || !strings.Contains(err.Error(), "reviewer role") {
		t.Fatalf("viewer token create: %v", err)
	}
}
