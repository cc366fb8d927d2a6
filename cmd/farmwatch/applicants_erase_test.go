package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/farmwatch/farmwatch/internal/testcollector"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// TestApplicantsDeleteCLI: `applicants delete ID --note TEXT` as docs/CLI.md
// shows it erases a ring member, the others stay listed and no longer name
// them, -o json carries the counts, and an erased id is refused.
func TestApplicantsDeleteCLI(t *testing.T) {
	c := testcollector.Start(t, nil)
	file := filepath.Join(t.TempDir(), "applicants.jsonl")
	writeJSONL(t, file, cliCorpus())
	if _, stderr, err := runCLI(t, c.Data, "applicants", "import", file); err != nil {
		t.Fatalf("import: %v\n%s", err, stderr)
	}
	if _, _, err := runCLI(t, c.Data, "applicants", "delete", "r-1"); err == nil || !strings.Contains(err.Error(), "--note is required") {
		t.Fatalf("delete without --note: %v", err)
	}
	out, _, err := runCLI(t, c.Data, "applicants", "delete", "r-1", "--note", "erasure request ER-12")
	if err != nil || !strings.Contains(out, "applicant r-1 erased: 1 alerts; 2 tied applicants screened again") {
		t.Fatalf("applicants delete: %v\n%s", err, out)
	}
	list, _, err := runCLI(t, c.Data, "applicants", "list")
	if err != nil || strings.Contains(list, "r-1") || strings.Contains(list, "Daniel Brooks") || !strings.Contains(list, "r-2") {
		t.Errorf("applicants list after the erasure: %v\n%s", err, list)
	}
	show, _, err := runCLI(t, c.Data, "applicants", "show", "r-2", "-o", "wide")
	if err != nil || strings.Contains(show, "r-1") || strings.Contains(show, "Daniel Brooks") || !strings.Contains(show, "r-3") {
		t.Errorf("applicants show r-2 after the erasure: %v\n%s", err, show)
	}
	audit, err := c.Admin.ListAudit(context.Background(), &pb.ListAuditRequest{Subject: "r-1"})
	if err != nil || len(audit.GetEntries()) != 1 || audit.GetEntries()[0].GetAction() != "applicant.delete" ||
		!strings.HasSuffix(audit.GetEntries()[0].GetDetail(), "; erasure request ER-12") {
		t.Errorf("the audit of r-1: %v %v", audit.GetEntries(), err)
	}

	js, _, err := runCLI(t, c.Data, "applicants", "delete", "a-1", "--note", "withdrawn, asked to be forgotten", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var resp struct {
		ApplicantID string `json:"applicant_id"`
	}
	if err := json.Unmarshal([]byte(js), &resp); err != nil || resp.ApplicantID != "a-1" {
		t.Errorf("applicants delete -o json: %v\n%s", err, js)
	}
	if _, _, err := runCLI(t, c.Data, "applicants", "delete", "r-1", "--note", "erasure request ER-12"); err == nil || !strings.Contains(err.Error(), `applicant "r-1" does not exist`) {
		t.Errorf("a second delete: %v", err)
	}
}
