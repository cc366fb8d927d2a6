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

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/farmwatch/farmwatch/internal/testcollector"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
	"github.com/farmwatch/farmwatch/sim"
)

// writeJSONL writes applicants as an import file of JSON lines.
func writeJSONL(t *testing.T, path string, list []*pb.Applicant) {
	t.Helper()
	var b strings.Builder
	for _, a := range list {
		line, err := protojson.Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(line)
		b.WriteByte('\n')
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

func cliApplicant(id, name, email, phone, addr, employer string) *pb.Applicant {
	return &pb.Applicant{Id: id, Name: name, Emails: []string{email}, Phones: []string{phone}, ClaimedAddress: addr,
		WorkHistory: []*pb.WorkEntry{{Employer: employer, Title: "Engineer", Start: "2019-01", End: "2024-01"}},
		Role:        "Backend Engineer", InterviewTimeZone: "America/Chicago"}
}

// cliCorpus is two honest applicants and a ring of three sharing a phone, a
// shipping address, a submission IP and a résumé.
func cliCorpus() []*pb.Applicant {
	out := []*pb.Applicant{
		cliApplicant("a-1", "Ana Lee", "Ana.Lee+jobs@gmail.com", "512-555-0101", "1200 Barton Springs Rd, Austin, TX 78704", "Dell"),
		cliApplicant("a-2", "Ben Ortiz", "ben.ortiz@example.org", "512-555-0102", "88 Congress Ave, Austin, TX 78701", "Indeed"),
	}
	for i, n := range []string{"Daniel Brooks", "Kevin Walsh", "Ryan Mitchell"} {
		r := cliApplicant(fmt.Sprintf("r-%d", i+1), n, fmt.Sprintf("dev.ring%d@gmail.com", i), "+1 (415) 555-0142",
			fmt.Sprintf("%d Main St, Seattle, WA 98101", 300+i), fmt.Sprintf("Startup %d LLC", i))
		r.ShippingAddress, r.SubmissionIp = "4417 Elm Ave Apt 3, Dallas, TX 75201", "203.0.113.77"
		r.ResumeText = "Senior machine learning engineer building large language model inference services, custom cuda kernels, vector search and retrieval augmented generation for fortune 500 clients"
		out = append(out, r)
	}
	return out
}

// TestApplicantsCLI: import a file, then list, show and find the ring's
// alerts in the one queue.
func TestApplicantsCLI(t *testing.T) {
	c := testcollector.Start(t, nil)
	file := filepath.Join(t.TempDir(), "applicants.jsonl")
	writeJSONL(t, file, cliCorpus())
	out, stderr, err := runCLI(t, c.Data, "applicants", "import", file)
	if err != nil {
		t.Fatalf("import: %v\n%s", err, stderr)
	}
	if !strings.Contains(out, "imported 5 applicants from "+file+": 5 added, 0 updated, 0 unchanged; 5 screened") {
		t.Errorf("import said:\n%s", out)
	}
	list, _, err := runCLI(t, c.Data, "applicants", "list")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(list), "\n")
	if len(lines) != 6 || !strings.HasPrefix(lines[0], "ID") || !strings.HasPrefix(lines[1], "r-") {
		t.Errorf("list, highest score first:\n%s", list)
	}
	js, _, err := runCLI(t, c.Data, "applicants", "list", "--min-score", "0.5", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var parsed struct {
		Applicants []struct {
			ID      string  `json:"id"`
			Score   float64 `json:"score"`
			AlertID string  `json:"alert_id"`
		} `json:"applicants"`
	}
	if err := json.Unmarshal([]byte(js), &parsed); err != nil {
		t.Fatalf("%v\n%s", err, js)
	}
	if len(parsed.Applicants) != 3 {
		t.Fatalf("--min-score 0.5: %s", js)
	}
	for _, a := range parsed.Applicants {
		if !strings.HasPrefix(a.ID, "r-") || a.AlertID == "" || a.Score < 0.5 {
			t.Errorf("--min-score 0.5 listed %+v", a)
		}
	}
	show, _, err := runCLI(t, c.Data, "applicants", "show", "r-1")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Applicant r-1: Daniel Brooks", "+14155550142", "related:          r-2, r-3", "applicant.shared_"} {
		if !strings.Contains(show, want) {
			t.Errorf("show lacks %q:\n%s", want, show)
		}
	}
	wide, _, err := runCLI(t, c.Data, "applicants", "show", "r-1", "-o", "wide")
	if err != nil || !strings.Contains(wide, "work:             Startup 0 LLC, Engineer (2019-01 to 2024-01)") {
		t.Errorf("show -o wide: %v\n%s", err, wide)
	}
	alerts, _, err := runCLI(t, c.Data, "alerts", "list")
	if err != nil || !strings.Contains(alerts, "applicant r-1") {
		t.Fatalf("alerts list does not name the applicant: %v\n%s", err, alerts)
	}
	id := parsed.Applicants[0].AlertID
	al, _, err := runCLI(t, c.Data, "alerts", "show", id)
	if err != nil || !strings.Contains(al, "(applicant, open)") || !strings.Contains(al, "related applicants: ") {
		t.Errorf("alerts show %s: %v\n%s", id, err, al)
	}
	if _, _, err := runCLI(t, c.Data, "alerts", "resolve", id, "--verdict", "false-positive", "--note", "roommates"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Admin.GetApplicant(context.Background(), &pb.GetApplicantRequest{Id: "nobody"}); err == nil {
		t.Error("an unknown applicant was found")
	}
	if _, _, err := runCLI(t, c.Data, "applicants", "show", "nobody"); err == nil {
		t.Error("show of an unknown applicant succeeded")
	}
}

// TestApplicantsImportBadFile: every bad row is printed as FILE:LINE: FIELD:
// WHY, the command fails, and nothing reaches the collector.
func TestApplicantsImportBadFile(t *testing.T) {
	c := testcollector.Start(t, nil)
	dir := t.TempDir()
	list := cliCorpus()
	list[1].Phones = []string{"555-CALL-NOW"}
	list[3].InterviewTimeZone = "Mars/Olympus_Mons"
	file := filepath.Join(dir, "bad.jsonl")
	writeJSONL(t, file, list)
	_, stderr, err := runCLI(t, c.Data, "applicants", "import", file)
	if err == nil || !strings.Contains(err.Error(), "2 bad row(s)") || !strings.Contains(err.Error(), "nothing was imported") {
		t.Fatalf("import of a bad file: %v", err)
	}
	golden := filepath.Join("testdata", "golden", "applicants-import-bad.txt")
	got := strings.ReplaceAll(stderr, dir+string(filepath.Separator), "")
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -run TestApplicantsImportBadFile -update)", err)
	}
	if got != string(want) {
		t.Errorf("stderr:\n%s\nwant (%s):\n%s", got, golden, want)
	}
	for _, w := range []string{"bad.jsonl:2: phones[0]", "bad.jsonl:4: interview_time_zone"} {
		if !strings.Contains(got, w) {
			t.Errorf("stderr lacks %q", w)
		}
	}
	resp, err := c.Admin.ListApplicants(context.Background(), &pb.ListApplicantsRequest{})
	if err != nil || len(resp.GetApplicants()) != 0 {
		t.Errorf("a refused file stored applicants: %v %v", resp, err)
	}
	if _, _, err := runCLI(t, c.Data, "applicants", "import", filepath.Join(dir, "applicants.txt")); err == nil || !strings.Contains(err.Error(), "--format") {
		t.Errorf("a file name without a known extension: %v", err)
	}
}

// TestApplicantsImportManyBadRows: a file with more bad rows than the
// collector lists names the first 1,000 and counts the rest, a row the reader
// cannot read is named without the collector, and nothing is stored.
func TestApplicantsImportManyBadRows(t *testing.T) {
	c := testcollector.Start(t, nil)
	dir := t.TempDir()
	var list []*pb.Applicant
	for i := range 1500 {
		a := cliApplicant(fmt.Sprintf("b-%d", i), fmt.Sprintf("Person %d", i), fmt.Sprintf("p%d@example.org", i),
			"512-555-0101", "1200 Barton Springs Rd, Austin, TX 78704", "Dell")
		if i%3 != 2 {
			a.Phones = []string{"call me maybe"}
		}
		list = append(list, a)
	}
	file := filepath.Join(dir, "many.jsonl")
	writeJSONL(t, file, list)
	_, stderr, err := runCLI(t, c.Data, "applicants", "import", file)
	if err == nil || !strings.Contains(err.Error(), "1000 bad row(s)") {
		t.Fatalf("import of 1,000 bad rows in 1,500: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	if len(lines) != 1000 || !strings.HasPrefix(lines[0], file+":1: phones[0]: ") ||
		!strings.HasPrefix(lines[999], file+":1499: phones[0]: ") {
		t.Errorf("stderr: %d lines, first %q, last two %q", len(lines), lines[0], lines[len(lines)-2:])
	}
	// Past the listed 1,000 nothing is lost: the count covers every bad row.
	list = append(list, list[0], list[1])
	list[1500], list[1501] = proto.Clone(list[0]).(*pb.Applicant), proto.Clone(list[1]).(*pb.Applicant)
	list[1500].Id, list[1501].Id = "b-x", "b-y"
	writeJSONL(t, file, list)
	_, stderr, err = runCLI(t, c.Data, "applicants", "import", file)
	if err == nil || !strings.Contains(err.Error(), "1002 bad row(s)") || !strings.Contains(stderr, "and 2 more") {
		t.Errorf("1,002 bad rows: %v\n%s", err, stderr[max(0, len(stderr)-200):])
	}
	// A row the reader cannot read stops the import in the client.
	if err := os.WriteFile(file, []byte(`{"id":"ok-1","name":"Ana Lee"}`+"\n"+`{"id":"x-2","name":`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, stderr, err = runCLI(t, c.Data, "applicants", "import", file)
	if err == nil || !strings.Contains(stderr, file+":2: ") {
		t.Errorf("an unreadable row: %v\n%s", err, stderr)
	}
	resp, err := c.Admin.ListApplicants(context.Background(), &pb.ListApplicantsRequest{})
	if err != nil || len(resp.GetApplicants()) != 0 {
		t.Errorf("a refused file stored applicants: %v %v", resp, err)
	}
}

// TestHireLinksApplicant: a hire whose email is one applicant's (as the
// normaliser compares emails) is linked to them, and `hires show` prints the
// applicant evidence beside the device evidence; a hire naming an unknown
// applicant is refused.
func TestHireLinksApplicant(t *testing.T) {
	c := testcollector.Start(t, nil)
	file := filepath.Join(t.TempDir(), "applicants.jsonl")
	writeJSONL(t, file, cliCorpus())
	if _, stderr, err := runCLI(t, c.Data, "applicants", "import", file); err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	if _, _, err := runCLI(t, c.Data, "hires", "add", "--id", "H-1", "--name", "Ana Lee", "--email", "analee@gmail.com",
		"--claimed-home", "Austin, TX, US"); err != nil {
		t.Fatal(err)
	}
	show, _, err := runCLI(t, c.Data, "hires", "show", "H-1")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"applicant:        a-1", "devices:          0", "Applicant evidence of a-1: screening score"} {
		if !strings.Contains(show, want) {
			t.Errorf("hires show lacks %q:\n%s", want, show)
		}
	}
	ap, err := c.Admin.GetApplicant(context.Background(), &pb.GetApplicantRequest{Id: "a-1"})
	if err != nil || ap.GetApplicant().GetHireId() != "H-1" {
		t.Errorf("the applicant does not name the hire: %v %v", ap.GetApplicant(), err)
	}
	// A ring member hired by the import column: their ring evidence shows.
	csv := filepath.Join(t.TempDir(), "hires.csv")
	os.WriteFile(csv, []byte("id,name,claimed_home,applicant_id\nH-2,Daniel Brooks,\"Seattle, WA, US\",r-1\n"), 0o644)
	if _, stderr, err := runCLI(t, c.Data, "hires", "import", csv); err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	show, _, err = runCLI(t, c.Data, "hires", "show", "H-2")
	if err != nil || !strings.Contains(show, "Applicant evidence of r-1") || !strings.Contains(show, "applicant.shared_") {
		t.Errorf("hires show H-2: %v\n%s", err, show)
	}
	if d, _ := c.Admin.GetApplicant(context.Background(), &pb.GetApplicantRequest{Id: "r-1"}); d.GetAlert().GetHireId() != "H-2" {
		t.Errorf("the ring member's alert does not name the hire: %v", d.GetAlert())
	}
	os.WriteFile(csv, []byte("id,name,claimed_home,applicant_id\nH-3,Cy Young,\"Austin, TX, US\",nobody\n"), 0o644)
	if _, _, err := runCLI(t, c.Data, "hires", "import", csv); err == nil || !strings.Contains(err.Error(), `applicant "nobody" does not exist`) {
		t.Errorf("a hire naming an unknown applicant: %v", err)
	}
	if _, err := c.Admin.GetHire(context.Background(), &pb.GetHireRequest{Id: "H-3"}); err == nil {
		t.Error("the refused hire was stored")
	}
	// Linked by hand after the fact.
	if _, _, err := runCLI(t, c.Data, "hires", "add", "--id", "H-4", "--name", "Ben Ortiz", "--claimed-home", "Austin, TX, US"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := runCLI(t, c.Data, "hires", "update", "H-4", "--applicant-id", "a-2", "--note", "linked by the recruiter"); err != nil {
		t.Fatal(err)
	}
	if ap, _ := c.Admin.GetApplicant(context.Background(), &pb.GetApplicantRequest{Id: "a-2"}); ap.GetApplicant().GetHireId() != "H-4" {
		t.Errorf("hires update --applicant-id did not link: %v", ap.GetApplicant())
	}
	// Erasing the hire leaves the application, without the hire's id.
	if _, _, err := runCLI(t, c.Data, "hires", "delete", "H-4", "--note", "erasure request 7"); err != nil {
		t.Fatal(err)
	}
	if ap, err := c.Admin.GetApplicant(context.Background(), &pb.GetApplicantRequest{Id: "a-2"}); err != nil || ap.GetApplicant().GetHireId() != "" {
		t.Errorf("after hires delete: %v %v", ap.GetApplicant(), err)
	}
}

// TestApplicantImportedAfterHire: a hire added before their applicant is
// imported is linked by the import, both ways; a second applicant with the
// same email afterwards does not move the link.
func TestApplicantImportedAfterHire(t *testing.T) {
	c := testcollector.Start(t, nil)
	if _, _, err := runCLI(t, c.Data, "hires", "add", "--id", "H-9", "--name", "Ana Lee", "--email", "analee@gmail.com",
		"--claimed-home", "Austin, TX, US"); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "applicants.jsonl")
	writeJSONL(t, file, cliCorpus())
	if _, stderr, err := runCLI(t, c.Data, "applicants", "import", file); err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	h, err := c.Admin.GetHire(context.Background(), &pb.GetHireRequest{Id: "H-9"})
	if err != nil || h.GetApplicantId() != "a-1" {
		t.Fatalf("the hire added first was not linked by the import: %v %v", h, err)
	}
	if ap, _ := c.Admin.GetApplicant(context.Background(), &pb.GetApplicantRequest{Id: "a-1"}); ap.GetApplicant().GetHireId() != "H-9" {
		t.Errorf("the applicant does not name the hire: %v", ap.GetApplicant())
	}
	// Another application with the same mailbox: the link stays where it is.
	again := cliApplicant("a-1b", "Ana Lee", "ana.lee@gmail.com", "512-555-0101", "1200 Barton Springs Rd, Austin, TX 78704", "Dell")
	writeJSONL(t, file, []*pb.Applicant{again})
	if _, stderr, err := runCLI(t, c.Data, "applicants", "import", file); err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	if h, _ := c.Admin.GetHire(context.Background(), &pb.GetHireRequest{Id: "H-9"}); h.GetApplicantId() != "a-1" {
		t.Errorf("a second applicant with the email moved the link: %v", h)
	}
}

// TestApplicantsImportFormats: the README's commands on the import formats'
// own fixtures: a CSV export (then re-synced with --update) and a
// Greenhouse Harvest candidates export, the format taken from the name.
func TestApplicantsImportFormats(t *testing.T) {
	c := testcollector.Start(t, nil)
	dir := t.TempDir()
	for _, f := range []struct{ from, to string }{{"applicants.csv", "applicants.csv"}, {"candidates.json", "candidates.json"}} {
		b, err := os.ReadFile(filepath.Join("..", "..", "collector", "applicants", "testdata", f.from))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, f.to), b, 0o644)
	}
	csvPath := filepath.Join(dir, "applicants.csv")
	out, stderr, err := runCLI(t, c.Data, "applicants", "import", csvPath)
	if err != nil || !strings.Contains(out, "added") {
		t.Fatalf("import csv: %v\n%s%s", err, out, stderr)
	}
	out, stderr, err = runCLI(t, c.Data, "applicants", "import", "--update", csvPath)
	if err != nil || !strings.Contains(out, "0 added, 0 updated") {
		t.Errorf("import --update of the same file: %v\n%s%s", err, out, stderr)
	}
	if _, stderr, err = runCLI(t, c.Data, "applicants", "import", csvPath); err == nil || !strings.Contains(err.Error(), "2 bad row(s)") ||
		!strings.Contains(stderr, "applicants.csv:2: id: \"a-100\" already exists") {
		t.Errorf("a second import without --update: %v\n%s", err, stderr)
	}
	out, stderr, err = runCLI(t, c.Data, "applicants", "import", filepath.Join(dir, "candidates.json"), "-o", "json")
	if err != nil || !strings.Contains(out, `"added"`) {
		t.Fatalf("import greenhouse: %v\n%s%s", err, out, stderr)
	}
	if _, _, err := runCLI(t, c.Data, "applicants", "list", "--min-score", "0.5"); err != nil {
		t.Error(err)
	}
	show, _, err := runCLI(t, c.Data, "applicants", "show", "a-100")
	if err != nil || !strings.Contains(show, "Applicant a-100: Ana Souza") || !strings.Contains(show, "+15125550199") {
		t.Errorf("show a-100: %v\n%s", err, show)
	}
}

// TestHiresShowBothHalves: a farm member's hire, linked to a ring
// applicant, shows its device evidence and its applicant evidence side by
// side.
func TestHiresShowBothHalves(t *testing.T) {
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
	for range 2 {
		if _, err := fleet.Send(ctx, time.Now(), 1, 4); err != nil {
			t.Fatal(err)
		}
	}
	var member *sim.Device
	for _, d := range fleet.Devices {
		if d.Scenario == sim.Farm {
			member = d
			break
		}
	}
	file := filepath.Join(t.TempDir(), "applicants.jsonl")
	writeJSONL(t, file, cliCorpus())
	if _, stderr, err := runCLI(t, c.Data, "applicants", "import", file); err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	hire := member.Hire.GetId()
	if _, _, err := runCLI(t, c.Data, "hires", "update", hire, "--applicant-id", "r-2", "--note", "the recruiter's record"); err != nil {
		t.Fatal(err)
	}
	show, _, err := runCLI(t, c.Data, "hires", "show", hire)
	if err != nil {
		t.Fatal(err)
	}
	dev := strings.Index(show, "Device evidence of "+member.ID())
	app := strings.Index(show, "Applicant evidence of r-2")
	if dev < 0 || app < dev || !strings.Contains(show[dev:app], "net.colocated") || !strings.Contains(show[app:], "applicant.shared_") {
		t.Errorf("hires show %s: want the device's evidence (net.colocated) and then the applicant's:\n%s", hire, show)
	}
}
