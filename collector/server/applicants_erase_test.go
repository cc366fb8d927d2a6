package server_test

import (
	"bytes"
	"context"
	"maps"
	"regexp"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/farmwatch/farmwatch/internal/testcollector"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// erasedMember is how the erased ring member r-1 could still be named: the
// id as a whole word ("r-1", not "r-10"), or the name.
var erasedMember = regexp.MustCompile(`(^|[^A-Za-z0-9_-])r-1($|[^A-Za-z0-9_-])|Daniel Brooks`)

// TestApplicantDeleteErasesFromRing: a ring member asks to be forgotten.
// After applicants delete, no other applicant's evidence, no alert (open or
// the record of a verdict) and no audit entry names them; their own alerts
// are gone, their hire stays unlinked, their email links no new hire, and
// the rest of the ring is still alerted on what it still shares.
func TestApplicantDeleteErasesFromRing(t *testing.T) {
	c := testcollector.Start(t, nil)
	ctx := context.Background()
	list := append([]*pb.Applicant{honest(0), honest(1)}, ring()...)
	if _, err := importApplicants(t, c.Admin, false, list); err != nil {
		t.Fatal(err)
	}
	detail, err := c.Admin.GetApplicant(ctx, &pb.GetApplicantRequest{Id: "r-2"})
	if err != nil {
		t.Fatal(err)
	}
	judged := detail.GetAlert()
	if judged == nil || !erasedMember.MatchString(prototext.Format(judged)) {
		t.Fatalf("r-2's alert does not name r-1 before the erasure: the test would prove nothing: %v", judged)
	}
	// A verdict whose note names r-1, then a fifth member: r-2's judged
	// alert stays as the record of that verdict, naming r-1, and a new one
	// opens for the new tie.
	if _, err := c.Admin.ResolveAlert(ctx, &pb.ResolveAlertRequest{Id: judged.GetId(), Verdict: "confirmed",
		Note: "same facilitator as Daniel Brooks"}); err != nil {
		t.Fatal(err)
	}
	fifth := proto.Clone(ring()[1]).(*pb.Applicant)
	fifth.Id, fifth.Name, fifth.Emails = "r-5", "Scott Hayes", []string{"scott.dev5@gmail.com"}
	fifth.AppliedAt = timestamppb.New(time.Date(2026, 11, 4, 9, 0, 0, 0, time.UTC))
	if _, err := importApplicants(t, c.Admin, false, []*pb.Applicant{fifth}); err != nil {
		t.Fatal(err)
	}
	if d, _ := c.Admin.GetApplicant(ctx, &pb.GetApplicantRequest{Id: "r-2"}); d.GetAlert().GetId() == judged.GetId() {
		t.Fatalf("no new alert for r-2 after a new tie: the old verdict's record would be rewritten by screening: %v", d.GetAlert())
	}
	// The hire r-1 became, linked by the applicant's id.
	if _, err := c.Admin.AddHires(ctx, &pb.AddHiresRequest{Hires: []*pb.Hire{{Id: "H-1", Name: "D. Brooks",
		ClaimedHome: "Seattle, WA, US", ApplicantId: "r-1"}}}); err != nil {
		t.Fatal(err)
	}
	own, err := c.Admin.GetApplicant(ctx, &pb.GetApplicantRequest{Id: "r-1"})
	if err != nil || own.GetAlert() == nil || own.GetApplicant().GetHireId() != "H-1" {
		t.Fatalf("r-1 before the erasure: %v %v", own, err)
	}

	ownDetails := []string{"Daniel Brooks", "daniel.dev0@gmail.com", "200 Main St"}
	raw := storeContent(t, c)
	for _, p := range ownDetails {
		if !bytes.Contains(raw, []byte(p)) {
			t.Fatalf("%q is not in the store before the erasure: the test would prove nothing", p)
		}
	}

	named := 0
	events, err := c.Server.Store().AlertEvents(0, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range events {
		if erasedMember.MatchString(prototext.Format(ev)) {
			named++
		}
	}
	if named == 0 {
		t.Fatal("no alert event names r-1 before the erasure: the test would prove nothing")
	}
	if _, err := viewer(t, c).DeleteApplicant(ctx, &pb.DeleteApplicantRequest{Id: "r-1", Note: "ER-7"}); status.Code(err) != codes.PermissionDenied {
		t.Errorf("a viewer erased an applicant: %v", err)
	}
	if _, err := c.Admin.DeleteApplicant(ctx, &pb.DeleteApplicantRequest{Id: "r-1"}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("an erasure without a note: %v", err)
	}
	resp, err := c.Admin.DeleteApplicant(ctx, &pb.DeleteApplicantRequest{Id: "r-1", Note: "erasure request ER-7"})
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetAlerts() < 1 || resp.GetAlertsScrubbed() < 1 || resp.GetAuditEntriesRedacted() < 1 || resp.GetRescreened() != 4 || resp.GetHireUnlinked() != "H-1" {
		t.Errorf("erasure counts: %v; want its alert deleted, the verdict's record scrubbed, the resolve note redacted, 4 members screened again, H-1 unlinked", resp)
	}

	if _, err := c.Admin.GetApplicant(ctx, &pb.GetApplicantRequest{Id: "r-1"}); status.Code(err) != codes.NotFound {
		t.Errorf("the erased applicant still reads: %v", err)
	}
	for _, id := range []string{"r-2", "r-3", "r-4", "r-5"} {
		d, err := c.Admin.GetApplicant(ctx, &pb.GetApplicantRequest{Id: id})
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range d.GetEvidence() {
			if text := prototext.Format(ev); erasedMember.MatchString(text) {
				t.Errorf("%s's evidence still names the erased applicant: %s", id, text)
			}
		}
		if text := prototext.Format(d.GetAlert()); erasedMember.MatchString(text) {
			t.Errorf("%s's alert still names the erased applicant: %s", id, text)
		}
		// The alert was screened again, not just scrubbed: it says what the
		// evidence now says.
		if al := d.GetAlert(); al.GetScore() != d.GetScore() || len(al.GetEvidence()) != len(d.GetEvidence()) {
			t.Errorf("%s's alert scores %.3f on %d lines, its screening %.3f on %d", id, al.GetScore(), len(al.GetEvidence()), d.GetScore(), len(d.GetEvidence()))
		} else {
			for i, ev := range d.GetEvidence() {
				if got := al.GetEvidence()[i]; got.GetExplanation() != ev.GetExplanation() || !maps.Equal(got.GetFacts(), ev.GetFacts()) {
					t.Errorf("%s's alert line %q, its screening %q (%v, %v)", id, got.GetExplanation(), ev.GetExplanation(), got.GetFacts(), ev.GetFacts())
				}
			}
		}
		if d.GetAlert() == nil || len(d.GetRelated()) == 0 || d.GetScore() < 0.5 {
			t.Errorf("%s is no longer alerted on what the rest of the ring shares: score %.2f, related %v", id, d.GetScore(), d.GetRelated())
		}
	}
	alerts, err := c.Admin.ListAlerts(ctx, &pb.ListAlertsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, al := range alerts.GetAlerts() {
		if al.GetApplicantId() == "r-1" {
			t.Errorf("the erased applicant's alert %s remains", al.GetId())
		}
		if text := prototext.Format(al); erasedMember.MatchString(text) {
			t.Errorf("alert %s (%s) still names the erased applicant: %s", al.GetId(), al.GetStatus(), text)
		}
	}
	// The alert event log names them nowhere either, and keeps its ids
	// without a gap (a watcher would take one for pruning).
	after, err := c.Server.Store().AlertEvents(0, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if len(after) < len(events) {
		t.Errorf("%d alert events after the erasure, %d before: events were deleted", len(after), len(events))
	}
	for i, ev := range after {
		if ev.GetId() != uint64(i+1) {
			t.Errorf("alert event ids have a gap at %d (id %d)", i+1, ev.GetId())
			break
		}
		if text := prototext.Format(ev); erasedMember.MatchString(text) {
			t.Errorf("alert event %d (%s) still names the erased applicant: %s", ev.GetId(), ev.GetType(), text)
		}
	}
	if got, err := c.Admin.GetAlert(ctx, &pb.GetAlertRequest{Id: judged.GetId()}); err != nil || got.GetStatus() != "resolved" || got.GetVerdict() != "confirmed" {
		t.Errorf("the record of r-2's verdict: %v %v", got, err)
	}
	audit, err := c.Admin.ListAudit(ctx, &pb.ListAuditRequest{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var deleted int
	for _, e := range audit.GetEntries() {
		if strings.Contains(e.GetDetail(), "Daniel Brooks") {
			t.Errorf("audit entry %s %s still names the erased applicant: %q", e.GetAction(), e.GetSubject(), e.GetDetail())
		}
		if e.GetAction() == "applicant.delete" {
			deleted++
			if e.GetSubject() != "r-1" || !strings.Contains(e.GetDetail(), "erasure request ER-7") {
				t.Errorf("applicant.delete audit line: %v", e)
			}
		}
	}
	if deleted != 1 {
		t.Errorf("%d applicant.delete audit lines, want 1", deleted)
	}
	h, err := c.Admin.GetHire(ctx, &pb.GetHireRequest{Id: "H-1"})
	if err != nil || h.GetApplicantId() != "" {
		t.Errorf("the hire r-1 became: %v %v; want it kept with no applicant", h, err)
	}
	// No byte of r-1's own details stays in the store (in a bbolt file,
	// freed pages are overwritten).
	raw = storeContent(t, c)
	for _, p := range ownDetails {
		if i := bytes.Index(raw, []byte(p)); i >= 0 {
			t.Errorf("%q is still in the store at byte %d after the erasure", p, i)
		}
	}
	// The email index forgot r-1: a hire with its email links to no one.
	if _, err := c.Admin.AddHires(ctx, &pb.AddHiresRequest{Hires: []*pb.Hire{{Id: "H-2", Name: "Someone",
		Email: "daniel.dev0@gmail.com", ClaimedHome: "Seattle, WA, US"}}}); err != nil {
		t.Fatal(err)
	}
	if h, err := c.Admin.GetHire(ctx, &pb.GetHireRequest{Id: "H-2"}); err != nil || h.GetApplicantId() != "" {
		t.Errorf("a hire with the erased applicant's email: %v %v", h, err)
	}
	if _, err := c.Admin.DeleteApplicant(ctx, &pb.DeleteApplicantRequest{Id: "r-1", Note: "erasure request ER-7"}); status.Code(err) != codes.NotFound {
		t.Errorf("a second erasure: %v; want NotFound", err)
	}
	// Screening after a restart builds the index from the store: r-1 is not
	// in it.
	c.Stop()
	c.Restart(t)
	if d, err := c.Admin.GetApplicant(ctx, &pb.GetApplicantRequest{Id: "r-2"}); err != nil || slicesContains(d.GetRelated(), "r-1") {
		t.Errorf("after a restart r-2 is tied to r-1 again: %v %v", d.GetRelated(), err)
	}
}

func slicesContains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// TestApplicantDeleteKeepsTheOtherBearerOfTheName: one identity applying
// twice with two sets of contacts; erasing one application takes its id out
// of the other's alert but leaves the other its own name.
func TestApplicantDeleteKeepsTheOtherBearerOfTheName(t *testing.T) {
	c := testcollector.Start(t, nil)
	ctx := context.Background()
	first, second := honest(7), honest(8)
	first.Id, second.Id = "x-1", "x-2"
	first.Name, second.Name = "Min-jun Kim", "Min-jun Kim"
	second.WorkHistory = first.GetWorkHistory()
	if _, err := importApplicants(t, c.Admin, false, []*pb.Applicant{first, second}); err != nil {
		t.Fatal(err)
	}
	d, err := c.Admin.GetApplicant(ctx, &pb.GetApplicantRequest{Id: "x-2"})
	if err != nil || d.GetAlert() == nil || !strings.Contains(prototext.Format(d.GetAlert()), "x-1") {
		t.Fatalf("x-2 has no alert naming x-1 before the erasure: the test would prove nothing: %v %v", d, err)
	}
	// A verdict, so that the alert is the record of it and not screened anew.
	if _, err := c.Admin.ResolveAlert(ctx, &pb.ResolveAlertRequest{Id: d.GetAlert().GetId(), Verdict: "false-positive", Note: "re-applied"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Admin.DeleteApplicant(ctx, &pb.DeleteApplicantRequest{Id: "x-1", Note: "erasure request ER-9"}); err != nil {
		t.Fatal(err)
	}
	al, err := c.Admin.GetAlert(ctx, &pb.GetAlertRequest{Id: d.GetAlert().GetId()})
	if err != nil {
		t.Fatal(err)
	}
	text := prototext.Format(al)
	if strings.Contains(text, "x-1") || !strings.Contains(al.GetSummary(), "Min-jun Kim") {
		t.Errorf("x-2's alert after x-1's erasure: %s; want no x-1 and its own name kept", text)
	}
}
