package multicollector_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/farmwatch/farmwatch/internal/pgtest"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// ringMember is one of four identities behind one facilitator: one phone,
// one shipping address, one submission IP and one résumé.
func ringMember(i int) *pb.Applicant {
	names := []string{"Daniel Brooks", "Kevin Walsh", "Ryan Mitchell", "Jason Turner"}
	n := names[i]
	return &pb.Applicant{
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
	}
}

func importApplicants(t *testing.T, admin pb.AdminServiceClient, list []*pb.Applicant) *pb.ImportApplicantsResponse {
	t.Helper()
	stream, err := admin.ImportApplicants(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	req := &pb.ImportApplicantsRequest{Applicants: list, Format: "jsonl"}
	for i := range list {
		req.Lines = append(req.Lines, uint32(i+2))
	}
	if err := stream.Send(req); err != nil {
		t.Fatal(err)
	}
	resp, err := stream.CloseAndRecv()
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func related(t *testing.T, admin pb.AdminServiceClient, id string) []string {
	t.Helper()
	d, err := admin.GetApplicant(context.Background(), &pb.GetApplicantRequest{Id: id})
	if err != nil {
		t.Fatal(err)
	}
	r := slices.Clone(d.GetRelated())
	slices.Sort(r)
	return r
}

// Applicant screening keeps an index in each collector's memory: on a
// shared store an import through B is screened against the applicants
// imported through A, A's screening sees B's import, and an applicant
// erased through B is gone from A's screening too.
func TestApplicantScreeningAcrossCollectors(t *testing.T) {
	url := pgtest.Shared(t).NewDatabase(t)
	ca := newCA(t)
	a, b := startCollector(t, url, ca), startCollector(t, url, ca)
	// Both collectors built their (empty) index at start, before either
	// import.
	importApplicants(t, a.Admin, []*pb.Applicant{ringMember(0), ringMember(1)})
	resp := importApplicants(t, b.Admin, []*pb.Applicant{ringMember(2), ringMember(3)})
	if resp.GetAdded() != 2 || resp.GetAlerts() < 2 {
		t.Fatalf("import through B: %v; want 2 added and alerts for them", resp)
	}
	want := []string{"r-1", "r-2", "r-4"}
	if got := related(t, b.Admin, "r-3"); !slices.Equal(got, want) {
		t.Errorf("B screens r-3 against %v, want %v (the ring members imported through A too)", got, want)
	}
	if got := related(t, a.Admin, "r-3"); !slices.Equal(got, want) {
		t.Errorf("A screens r-3 (imported through B) against %v, want %v", got, want)
	}

	if _, err := b.Admin.DeleteApplicant(context.Background(), &pb.DeleteApplicantRequest{Id: "r-1", Note: "erasure request 17"}); err != nil {
		t.Fatal(err)
	}
	want = []string{"r-3", "r-4"}
	if got := related(t, a.Admin, "r-2"); !slices.Equal(got, want) {
		t.Errorf("after r-1 was erased through B, A screens r-2 against %v, want %v", got, want)
	}
}
