package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/farmwatch/farmwatch/internal/testcollector"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// writeHiresCSV writes n hires the way an HR export might: extra columns,
// ids EMP-000000.., a handful of cities.
func writeHiresCSV(t *testing.T, path string, n int, phone string) {
	t.Helper()
	cities := []string{"Austin, TX, US", "Toronto, ON, CA", "Seattle, WA, US", "Chicago, IL, US", "Denver, CO, US"}
	var b strings.Builder
	b.WriteString("Employee Number,id,name,email,claimed_home,phone,Department,start_date\n")
	for i := range n {
		fmt.Fprintf(&b, "%d,EMP-%06d,Person %d,p%d@example.com,\"%s\",%s,Sales,2026-12-01\n", 9000+i, i, i, i, cities[i%len(cities)], phone)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
}

// A 100,000-row HR export imports in one go: sent as one message it passed
// the collector's 4 MiB message limit at about 30,000 rows.
func TestHiresImport100000Rows(t *testing.T) {
	if testing.Short() {
		t.Skip("imports 100,000 rows")
	}
	c := testcollector.Start(t, nil)
	file := filepath.Join(t.TempDir(), "hr-export.csv")
	writeHiresCSV(t, file, 100000, "+1 512 555 0100")
	start := time.Now()
	out, stderr, err := runCLI(t, c.Data, "hires", "import", file)
	if err != nil || !strings.Contains(out, "imported 100000 hires") {
		t.Fatalf("import: %v\n%s", err, out)
	}
	t.Logf("imported 100,000 rows in %v", time.Since(start))
	if strings.Count(stderr, "ignoring column") != 1 || !strings.Contains(stderr, "employee number, department") {
		t.Errorf("want one warning naming the ignored columns, stderr:\n%s", stderr)
	}
	list, err := c.Admin.GetHire(context.Background(), &pb.GetHireRequest{Id: "EMP-099999"})
	if err != nil || list.GetHome().GetTimeZone() != "America/Denver" {
		t.Fatalf("last hire: %v %v", list, err)
	}

	// The same file again: existing ids fail the import unless --update.
	if _, _, err := runCLI(t, c.Data, "hires", "import", file); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("re-import without --update: %v", err)
	}
}

// --update changes only the columns the file has, and a field left out of
// the file keeps its value; each changed field is in the audit trail.
func TestHiresImportUpdateKeepsOtherColumns(t *testing.T) {
	c := testcollector.Start(t, nil)
	dir := t.TempDir()
	first := filepath.Join(dir, "first.csv")
	os.WriteFile(first, []byte("id,name,claimed_home,phone,end_date\nh1,Ana,\"Austin, TX, US\",+1 512 555 0100,2027-01-31\n"), 0o600)
	if _, _, err := runCLI(t, c.Data, "hires", "import", first); err != nil {
		t.Fatal(err)
	}
	second := filepath.Join(dir, "second.csv")
	os.WriteFile(second, []byte("id,name,claimed_home,end_date\nh1,Ana,\"Austin, TX, US\",2027-03-31\nh2,Bo,\"Toronto, ON, CA\",\n"), 0o600)
	out, _, err := runCLI(t, c.Data, "hires", "import", "--update", second)
	if err != nil || !strings.Contains(out, "1 added, 1 updated, 0 unchanged") {
		t.Fatalf("import --update: %v\n%s", err, out)
	}
	h, _ := c.Admin.GetHire(context.Background(), &pb.GetHireRequest{Id: "h1"})
	if h.GetPhone() != "+1 512 555 0100" || h.GetEndDate() != "2027-03-31" {
		t.Fatalf("after the update: phone %q end %q", h.GetPhone(), h.GetEndDate())
	}
	audit, _ := c.Admin.ListAudit(context.Background(), &pb.ListAuditRequest{Subject: "h1"})
	if len(audit.GetEntries()) == 0 || audit.GetEntries()[0].GetDetail() != "end_date 2027-01-31 -> 2027-03-31; import --update" {
		t.Fatalf("audit: %v", audit.GetEntries())
	}
	out, _, err = runCLI(t, c.Data, "hires", "import", "--update", second)
	if err != nil || !strings.Contains(out, "0 added, 0 updated, 2 unchanged") {
		t.Fatalf("second re-sync: %v\n%s", err, out)
	}
}

// Every error of every row, as FILE:LINE: FIELD: WHY.
func TestHiresImportPrintsEveryErrorWithFileAndLine(t *testing.T) {
	c := testcollector.Start(t, nil)
	bad := filepath.Join(t.TempDir(), "bad.csv")
	os.WriteFile(bad, []byte("id,name,email,claimed_home,end_date\nh1,,nobody,\"Atlantis, ZZ, QQ\",soon\nh2,Bo,,\"Austin, TX, US\",\n"), 0o600)
	_, stderr, err := runCLI(t, c.Data, "hires", "import", bad)
	if err == nil || !strings.Contains(err.Error(), "4 error(s)") {
		t.Fatalf("import: %v", err)
	}
	for _, want := range []string{bad + ":2: name: missing", bad + `:2: email: "nobody": not an address`, bad + `:2: end_date: "soon"`, bad + ":2: claimed_home: "} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
}

// Paging the audit trail for an export: oldest first, each page after the
// last cursor, no entry twice or missed; --since bounds it.
func TestAuditPagingForExport(t *testing.T) {
	c := testcollector.Start(t, nil)
	for i := range 7 {
		if _, _, err := runCLI(t, c.Data, "hires", "add", "--id", fmt.Sprintf("h%d", i), "--name", "N", "--claimed-home", "Austin, TX, US"); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	cursor := ""
	for page := 0; page < 10; page++ {
		resp, err := c.Admin.ListAudit(context.Background(), &pb.ListAuditRequest{Limit: 3, After: cursor, OldestFirst: true})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range resp.GetEntries() {
			got = append(got, e.GetSubject())
		}
		if resp.GetNextCursor() == "" {
			break
		}
		cursor = resp.GetNextCursor()
	}
	if strings.Join(got, ",") != "h0,h1,h2,h3,h4,h5,h6" {
		t.Fatalf("pages: %v", got)
	}
	out, _, err := runCLI(t, c.Data, "audit", "--since", "1h", "--limit", "2", "-o", "json")
	var page struct {
		Entries []struct {
			Subject string `json:"subject"`
			Cursor  string `json:"cursor"`
		} `json:"entries"`
		NextCursor string `json:"next_cursor"`
	}
	if err != nil || json.Unmarshal([]byte(out), &page) != nil || len(page.Entries) != 2 || page.Entries[0].Subject != "h0" ||
		page.Entries[1].Subject != "h1" || page.NextCursor != page.Entries[1].Cursor {
		t.Fatalf("audit --since: %v\n%s", err, out)
	}
	if out, _, err := runCLI(t, c.Data, "audit", "--since", "2999-01-01"); err != nil || strings.Contains(out, "hire.add") {
		t.Fatalf("audit --since in the future: %v\n%s", err, out)
	}
	if _, _, err := runCLI(t, c.Data, "audit", "--after", "zz"); err == nil {
		t.Fatal("a bad cursor was accepted")
	}
	// hires update says --note is required: it is.
	if _, _, err := runCLI(t, c.Data, "hires", "update", "h1", "--phone", "+1 512 555 0100"); err == nil || !strings.Contains(err.Error(), "--note is required") {
		t.Fatalf("update without --note: %v", err)
	}
	if _, err := c.Admin.UpdateHire(context.Background(), &pb.UpdateHireRequest{Hire: &pb.Hire{Id: "h1", Name: "N", ClaimedHome: "Austin, TX, US"}}); err == nil {
		t.Fatal("the collector took an update without a note")
	}
}
