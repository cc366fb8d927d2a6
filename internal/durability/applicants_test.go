package durability

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/farmwatch/farmwatch/collector/store"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// TestApplicantImportKilledRollsForward: the collector is killed after an
// import committed (every row staged, the commit marker written) and before
// any row was applied. Nothing is visible then; when the collector starts
// again it applies and screens the whole import, alerts included.
func TestApplicantImportKilledRollsForward(t *testing.T) {
	c := startCollector(t)
	file := filepath.Join(t.TempDir(), "applicants.jsonl")
	var b strings.Builder
	const rows = 1200 // more than one chunk and one staging transaction's worth of lines
	for i := range rows {
		a := &pb.Applicant{Id: fmt.Sprintf("a-%04d", i), Name: fmt.Sprintf("Person %04d", i),
			Emails: []string{fmt.Sprintf("person%04d@example.org", i)}, Phones: []string{fmt.Sprintf("512-555-%04d", i)},
			ClaimedAddress: fmt.Sprintf("%d Congress Ave, Austin, TX 78701", i+1)}
		if i < 4 { // a ring: one phone and one shipping address for four people
			a.Phones, a.ShippingAddress = []string{"+1 (415) 555-0142"}, "4417 Elm Ave Apt 3, Dallas, TX 75201"
			a.SubmissionIp = "203.0.113.77"
		}
		line, err := protojson.Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(line)
		b.WriteByte('\n')
	}
	if err := os.WriteFile(file, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}

	reached := filepath.Join(t.TempDir(), "crashpoint-reached")
	c.signal(syscall.SIGTERM)
	c.env = []string{"FARMWATCH_CRASHPOINT=applicants.after-commit", "FARMWATCH_CRASHPOINT_REACHED=" + reached}
	c.start()
	c.env = nil
	imp := exec.Command(c.bin, "--data", c.data, "applicants", "import", file)
	var out strings.Builder
	imp.Stdout, imp.Stderr = &out, &out
	if err := imp.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if _, err := os.Stat(reached); err == nil {
			break
		}
		if time.Now().After(deadline) {
			imp.Process.Kill()
			imp.Wait()
			t.Fatalf("the import never reached its commit:\n%s", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	c.signal(syscall.SIGKILL)
	if err := imp.Wait(); err == nil {
		t.Fatalf("the import succeeded against a killed collector:\n%s", out.String())
	}

	// On disk: committed, staged, not applied.
	st, err := store.Open(c.data, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	st.View(func(tx *store.Tx) error {
		if n := tx.ApplicantCount(); n != 0 {
			t.Errorf("%d applicants applied before the kill, want 0 (the crash point is before apply)", n)
		}
		return nil
	})
	pending, err := st.PendingImports()
	st.Close()
	if err != nil || len(pending) != 1 {
		t.Fatalf("committed imports on disk: %v %v, want 1", pending, err)
	}

	c.start()
	var list struct {
		Applicants []struct {
			ID      string `json:"id"`
			AlertID string `json:"alert_id"`
		} `json:"applicants"`
	}
	cliJSON(t, c, &list, "applicants", "list", "-o", "json")
	alerted := map[string]bool{}
	for _, a := range list.Applicants {
		if a.AlertID != "" {
			alerted[a.ID] = true
		}
	}
	if len(list.Applicants) != rows {
		t.Fatalf("after the restart %d applicants, want all %d", len(list.Applicants), rows)
	}
	for i := range 4 {
		if id := fmt.Sprintf("a-%04d", i); !alerted[id] {
			t.Errorf("ring member %s has no alert after the roll-forward", id)
		}
	}
	var audit struct {
		Entries []struct {
			Action string `json:"action"`
			Detail string `json:"detail"`
		} `json:"entries"`
	}
	cliJSON(t, c, &audit, "audit", "-o", "json")
	found := false
	for _, e := range audit.Entries {
		found = found || (e.Action == "applicant.import" && strings.Contains(e.Detail, fmt.Sprintf("%d added", rows)))
	}
	if !found {
		t.Errorf("no applicant.import audit entry with the counts: %+v", audit.Entries)
	}
}

// cliJSON runs a farmwatch command against the collector and decodes its
// JSON output.
func cliJSON(t *testing.T, c *collector, v any, args ...string) {
	t.Helper()
	out, err := exec.Command(c.bin, append([]string{"--data", c.data}, args...)...).Output()
	if err != nil {
		t.Fatalf("farmwatch %v: %v\n%s", args, err, out)
	}
	if err := json.Unmarshal(out, v); err != nil {
		t.Fatalf("farmwatch %v: %v\n%s", args, err, out)
	}
}
