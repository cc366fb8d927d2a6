package server_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/farmwatch/farmwatch/collector/applicants"
	"github.com/farmwatch/farmwatch/collector/store"
	"github.com/farmwatch/farmwatch/internal/testcollector"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// importApplicants streams chunks of applicants (line numbers counted from
// 2, after a header) as the CLI does.
func importApplicants(t testing.TB, admin pb.AdminServiceClient, update bool, chunks ...[]*pb.Applicant) (*pb.ImportApplicantsResponse, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	stream, err := admin.ImportApplicants(ctx)
	if err != nil {
		return nil, err
	}
	line := uint32(2)
	for i, chunk := range chunks {
		req := &pb.ImportApplicantsRequest{Applicants: chunk}
		if i == 0 {
			req.Update, req.Format = update, "jsonl"
		}
		for range chunk {
			req.Lines = append(req.Lines, line)
			line++
		}
		if err := stream.Send(req); err != nil {
			break
		}
	}
	return stream.CloseAndRecv()
}

// honest is an applicant who shares nothing with anyone.
func honest(i int) *pb.Applicant {
	return &pb.Applicant{
		Id: fmt.Sprintf("h-%03d", i), Name: fmt.Sprintf("Honest Person %03d", i),
		Emails:         []string{fmt.Sprintf("honest.person%03d@example.org", i)},
		Phones:         []string{fmt.Sprintf("512-555-%04d", 1000+i)},
		ClaimedAddress: fmt.Sprintf("%d Barton Springs Rd, Austin, TX 78704", 100+i),
		WorkHistory: []*pb.WorkEntry{{Employer: fmt.Sprintf("Employer %03d Inc", i), Title: "Engineer", Start: "2019-01", End: "2023-06",
			Description: fmt.Sprintf("built billing pipeline number %d for a regional grocer", i)}},
		Education:         []*pb.EducationEntry{{Institution: "University of Texas at Austin", Degree: "BS", Start: "2014-09", End: "2018-05"}},
		Role:              "Backend Engineer",
		InterviewTimeZone: "America/Chicago",
		AppliedAt:         timestamppb.New(time.Date(2026, 11, 2, 15, 0, 0, 0, time.UTC)),
	}
}

// ring is four different identities behind one facilitator: one phone, one
// shipping address, one submission IP and one résumé.
func ring() []*pb.Applicant {
	names := []string{"Daniel Brooks", "Kevin Walsh", "Ryan Mitchell", "Jason Turner"}
	var out []*pb.Applicant
	for i, n := range names {
		out = append(out, &pb.Applicant{
			Id: fmt.Sprintf("r-%d", i+1), Name: n,
			Emails:          []string{fmt.Sprintf("%s.dev%d@gmail.com", strings.ToLower(strings.Fields(n)[0]), i)},
			Phones:          []string{"+1 (415) 555-0142"},
			ClaimedAddress:  fmt.Sprintf("%d Main St, Seattle, WA 98101", 200+i),
			ShippingAddress: "4417 Elm Ave Apt 3, Dallas, TX 75201",
			WorkHistory: []*pb.WorkEntry{{Employer: fmt.Sprintf("Startup %d LLC", i), Title: "Senior ML Engineer", Start: "2020-02", End: "2024-08",
				Description: "designed and deployed large language model inference services on kubernetes with custom cuda kernels and vector search"}},
			ResumeText:        "Senior machine learning engineer with eight years building large language model inference services, custom cuda kernels, vector search and retrieval augmented generation pipelines for fortune 500 clients",
			Role:              "ML Engineer",
			SubmissionIp:      "203.0.113.77",
			InterviewTimeZone: "America/Los_Angeles",
			AppliedAt:         timestamppb.New(time.Date(2026, 11, 3, 9, 0, 0, 0, time.UTC)),
		})
	}
	return out
}

// TestApplicantImportRaisesAlerts: an import with a ring opens applicant
// alerts in the one queue, for the ring and not the honest applicants; they
// are acknowledged and resolved like device alerts, audited, and their
// verdicts count in model fit.
func TestApplicantImportRaisesAlerts(t *testing.T) {
	c := testcollector.Start(t, nil)
	ctx := context.Background()
	var list []*pb.Applicant
	for i := range 6 {
		list = append(list, honest(i))
	}
	list = append(list, ring()...)
	resp, err := importApplicants(t, c.Admin, false, list[:5], list[5:])
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetAdded() != 10 || resp.GetScreened() < 10 || resp.GetAlerts() < 4 {
		t.Fatalf("import: %v; want 10 added, all screened, the 4 ring members alerted", resp)
	}
	alerts, err := c.Admin.ListAlerts(ctx, &pb.ListAlertsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	byApplicant := map[string]*pb.Alert{}
	for _, al := range alerts.GetAlerts() {
		if al.GetKind() != "applicant" {
			t.Errorf("alert %s of kind %q", al.GetId(), al.GetKind())
		}
		byApplicant[al.GetApplicantId()] = al
	}
	for _, r := range ring() {
		al := byApplicant[r.GetId()]
		if al == nil {
			t.Fatalf("no alert for ring member %s: %v", r.GetId(), alerts.GetAlerts())
		}
		if len(al.GetRelatedApplicants()) == 0 || len(al.GetEvidence()) == 0 {
			t.Errorf("alert %s names no related applicants or no evidence: %v", al.GetId(), al)
		}
	}
	for i := range 6 {
		if al := byApplicant[honest(i).GetId()]; al != nil && al.GetScore() >= 0.5 {
			t.Errorf("honest applicant %s alerted at %.2f: %v", honest(i).GetId(), al.GetScore(), al.GetEvidence())
		}
	}
	d, err := c.Admin.GetApplicant(ctx, &pb.GetApplicantRequest{Id: "r-1"})
	if err != nil {
		t.Fatal(err)
	}
	if d.GetAlert().GetId() != byApplicant["r-1"].GetId() || len(d.GetRelated()) == 0 || d.GetApplicant().GetPhonesNormalized()[0].GetE164() != "+14155550142" {
		t.Errorf("detail: %v", d)
	}
	sums, err := c.Admin.ListApplicants(ctx, &pb.ListApplicantsRequest{MinScore: 0.01})
	if err != nil {
		t.Fatal(err)
	}
	if len(sums.GetApplicants()) < 4 || !strings.HasPrefix(sums.GetApplicants()[0].GetId(), "r-") {
		t.Errorf("list --min-score: %v", sums.GetApplicants())
	}

	// The reviewer workflow, unchanged.
	al := byApplicant["r-1"]
	if _, err := c.Admin.AckAlert(ctx, &pb.AckAlertRequest{Id: al.GetId(), Note: "checking"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Admin.ResolveAlert(ctx, &pb.ResolveAlertRequest{Id: al.GetId(), Verdict: "confirmed", Note: "one facilitator"}); err != nil {
		t.Fatal(err)
	}
	got, err := c.Admin.GetAlert(ctx, &pb.GetAlertRequest{Id: al.GetId()})
	if err != nil || got.GetStatus() != "resolved" || got.GetApplicantId() != "r-1" {
		t.Fatalf("resolved alert: %v %v", got, err)
	}
	fit, err := c.Admin.FitModel(ctx, &pb.FitModelRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if fit.GetConfirmed() != 1 {
		t.Errorf("model fit counts %d confirmed verdicts, want the applicant's 1", fit.GetConfirmed())
	}
	fired := false
	for _, w := range fit.GetWeights() {
		if strings.HasPrefix(w.GetRule(), "applicant.") && w.GetFiredConfirmed() > 0 {
			fired = true
		}
	}
	if !fired {
		t.Errorf("model fit: no applicant rule counted in the confirmed verdict: %v", fit.GetWeights())
	}
	audit, err := c.Admin.ListAudit(ctx, &pb.ListAuditRequest{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	actions := map[string]string{}
	for _, e := range audit.GetEntries() {
		actions[e.GetAction()] = e.GetDetail()
	}
	if !strings.Contains(actions["applicant.import"], "10 added") || actions["alert.resolve"] == "" || actions["alert.ack"] == "" {
		t.Errorf("audit: %v", actions)
	}

	// Screening again with nothing new leaves the resolved alert resolved.
	resp, err = importApplicants(t, c.Admin, true, ring())
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetUnchanged() != 4 {
		t.Errorf("re-import of the same rows: %v", resp)
	}
	if got, _ := c.Admin.GetAlert(ctx, &pb.GetAlertRequest{Id: al.GetId()}); got.GetStatus() != "resolved" {
		t.Errorf("the same evidence reopened a resolved alert: %v", got)
	}
}

// TestApplicantImportBadRowStoresNothing: one bad row in the second chunk
// fails the import naming its line and field, and nothing is stored, not
// even the first chunk's good rows.
func TestApplicantImportBadRowStoresNothing(t *testing.T) {
	c := testcollector.Start(t, nil)
	first := []*pb.Applicant{honest(1), honest(2), honest(3)}
	bad := honest(4)
	bad.Phones = []string{"555-CALL-NOW-PLEASE"}
	second := []*pb.Applicant{honest(5), bad}
	_, err := importApplicants(t, c.Admin, false, first, second)
	if status.Code(err) != codes.InvalidArgument {
		t.Fatalf("import with a bad row: %v, want InvalidArgument", err)
	}
	// honest(4) is the fifth row: line 6.
	if msg := status.Convert(err).Message(); !strings.Contains(msg, "line 6: phones[0]") || !strings.Contains(msg, "nothing was stored") {
		t.Errorf("error does not name line 6 and phones[0]: %s", msg)
	}
	list, err := c.Admin.ListApplicants(context.Background(), &pb.ListApplicantsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.GetApplicants()) != 0 {
		t.Errorf("a failed import stored %d applicants", len(list.GetApplicants()))
	}
	c.Stop()
	st, err := c.OpenStore(store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	pending, err := st.PendingImports()
	if err != nil || len(pending) != 0 {
		t.Errorf("staging left behind: %v %v", pending, err)
	}
	st.View(func(tx *store.Tx) error {
		if n := tx.ApplicantCount(); n != 0 {
			t.Errorf("%d applicants stored", n)
		}
		return nil
	})
}

// TestApplicantReimportUpdatesByID: an id already stored fails an import
// without --update; with it the row replaces the stored applicant, which
// keeps when it was created.
func TestApplicantReimportUpdatesByID(t *testing.T) {
	c := testcollector.Start(t, nil)
	ctx := context.Background()
	if _, err := importApplicants(t, c.Admin, false, []*pb.Applicant{honest(1), honest(2)}); err != nil {
		t.Fatal(err)
	}
	before, err := c.Admin.GetApplicant(ctx, &pb.GetApplicantRequest{Id: "h-001"})
	if err != nil {
		t.Fatal(err)
	}
	changed := honest(1)
	changed.Role = "Staff Engineer"
	_, err = importApplicants(t, c.Admin, false, []*pb.Applicant{changed, honest(3)})
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(status.Convert(err).Message(), `line 2: id: "h-001" already exists`) {
		t.Fatalf("re-import without --update: %v", err)
	}
	if _, err := c.Admin.GetApplicant(ctx, &pb.GetApplicantRequest{Id: "h-003"}); status.Code(err) != codes.NotFound {
		t.Errorf("the refused import stored h-003: %v", err)
	}
	resp, err := importApplicants(t, c.Admin, true, []*pb.Applicant{changed, honest(2), honest(3)})
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetAdded() != 1 || resp.GetUpdated() != 1 || resp.GetUnchanged() != 1 {
		t.Errorf("import --update: %v, want 1 added, 1 updated, 1 unchanged", resp)
	}
	after, err := c.Admin.GetApplicant(ctx, &pb.GetApplicantRequest{Id: "h-001"})
	if err != nil {
		t.Fatal(err)
	}
	if after.GetApplicant().GetRole() != "Staff Engineer" || !after.GetApplicant().GetCreatedAt().AsTime().Equal(before.GetApplicant().GetCreatedAt().AsTime()) ||
		after.GetApplicant().GetUpdatedAt() == nil || after.GetApplicant().GetSourceFormat() != "jsonl" {
		t.Errorf("updated applicant: %v", after.GetApplicant())
	}
	// The client's idea of the collector's fields is never taken.
	forged := honest(4)
	forged.HireId, forged.AddressKey = "H-forged", "forged"
	forged.PhonesNormalized = []*pb.NormalizedPhone{{Raw: "x", E164: "+10000000000"}}
	if _, err := importApplicants(t, c.Admin, false, []*pb.Applicant{forged}); err != nil {
		t.Fatal(err)
	}
	got, err := c.Admin.GetApplicant(ctx, &pb.GetApplicantRequest{Id: "h-004"})
	if err != nil {
		t.Fatal(err)
	}
	if a := got.GetApplicant(); a.GetHireId() != "" || a.GetAddressKey() == "forged" || a.GetPhonesNormalized()[0].GetE164() != "+15125551004" {
		t.Errorf("the import set the collector's fields: %v", a)
	}
}

// TestApplicantImportRollsForward: an import whose commit marker is written
// but whose rows were not applied (the collector died between the two) is
// applied and screened when the collector starts again; staging that never
// committed is dropped.
func TestApplicantImportRollsForward(t *testing.T) {
	c := testcollector.Start(t, nil)
	c.Stop()
	st, err := c.OpenStore(store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var rows []*pb.Applicant
	for _, a := range append([]*pb.Applicant{honest(1)}, ring()...) {
		rows = append(rows, normalized(t, a))
	}
	at := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	if err := st.StageApplicants("I00000000000000a1", 0, rows[:2]); err != nil {
		t.Fatal(err)
	}
	if err := st.StageApplicants("I00000000000000a1", 2, rows[2:]); err != nil {
		t.Fatal(err)
	}
	if err := st.CommitImport("I00000000000000a1", store.ImportMarker{Format: "jsonl", Actor: "reviewer", At: at, Rows: len(rows)}); err != nil {
		t.Fatal(err)
	}
	// A second import staged but never committed.
	if err := st.StageApplicants("I00000000000000b2", 0, []*pb.Applicant{normalized(t, honest(9))}); err != nil {
		t.Fatal(err)
	}
	st.Close()

	c.Restart(t)
	ctx := context.Background()
	list, err := c.Admin.ListApplicants(ctx, &pb.ListApplicantsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, a := range list.GetApplicants() {
		ids[a.GetId()] = true
	}
	if len(ids) != 5 || !ids["h-001"] || !ids["r-4"] || ids["h-009"] {
		t.Fatalf("after restart: %v, want the committed import's 5 rows and not the uncommitted one", list.GetApplicants())
	}
	alerts, err := c.Admin.ListAlerts(ctx, &pb.ListAlertsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(alerts.GetAlerts()) < 4 {
		t.Errorf("the rolled-forward import was not screened: %v", alerts.GetAlerts())
	}
	c.Stop()
	st, err = c.OpenStore(store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if p, err := st.PendingImports(); err != nil || len(p) != 0 {
		t.Errorf("staging left after the roll-forward: %v %v", p, err)
	}
}

// normalized is a row as the collector stages it.
func normalized(t testing.TB, a *pb.Applicant) *pb.Applicant {
	t.Helper()
	a = proto.Clone(a).(*pb.Applicant)
	if errs := applicants.Normalize(a); len(errs) > 0 {
		t.Fatalf("%s: %v", a.GetId(), errs)
	}
	a.SourceFormat = "jsonl"
	return a
}
