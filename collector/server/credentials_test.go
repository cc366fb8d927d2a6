package server_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net/netip"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"

	"github.com/farmwatch/farmwatch/collector/pki"
	"github.com/farmwatch/farmwatch/collector/server"
	"github.com/farmwatch/farmwatch/internal/testcollector"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

var enrollIP = netip.MustParseAddr("198.51.100.40")

// A token is listed by id and state, never by its secret; a revoked one is
// refused at enrollment with a status that says so, at once.
func TestTokenListAndRevoke(t *testing.T) {
	c := testcollector.Start(t, nil)
	ctx := context.Background()
	if _, err := c.Admin.AddHires(ctx, &pb.AddHiresRequest{Hires: []*pb.Hire{{Id: "h1", Name: "Ana", ClaimedHome: "Austin, TX, US"}}}); err != nil {
		t.Fatal(err)
	}
	list, err := c.Admin.ListTokens(ctx, &pb.ListTokensRequest{})
	if err != nil || len(list.GetTokens()) != 0 {
		t.Fatalf("tokens of a new collector: %v %v", list, err)
	}
	keep, err := c.Admin.CreateToken(ctx, &pb.CreateTokenRequest{HireId: "h1"})
	if err != nil {
		t.Fatal(err)
	}
	drop, err := c.Admin.CreateToken(ctx, &pb.CreateTokenRequest{HireId: "h1"})
	if err != nil {
		t.Fatal(err)
	}
	if len(drop.GetId()) != 12 || strings.Contains(drop.GetToken(), drop.GetId()) {
		t.Fatalf("token id %q of token %q", drop.GetId(), drop.GetToken())
	}
	revoked, err := c.Admin.RevokeToken(ctx, &pb.RevokeTokenRequest{Id: drop.GetId(), Note: "laptop never shipped"})
	if err != nil || revoked.GetState() != "revoked" || revoked.GetRevokedBy() != "local-operator" {
		t.Fatalf("revoke: %v %v", revoked, err)
	}
	err = enrollFrom(c, enrollIP, drop.GetToken())
	wantStatus(t, err, codes.Unauthenticated, "revoked at")
	if err := enrollFrom(c, enrollIP, keep.GetToken()); err != nil {
		t.Fatalf("the other token: %v", err)
	}
	// A used token is the device's now: revoke the device, not the token.
	_, err = c.Admin.RevokeToken(ctx, &pb.RevokeTokenRequest{Id: keep.GetId()})
	wantStatus(t, err, codes.FailedPrecondition, "revoke the device instead")
	_, err = c.Admin.RevokeToken(ctx, &pb.RevokeTokenRequest{Id: drop.GetId()})
	wantStatus(t, err, codes.FailedPrecondition, "already revoked")
	_, err = c.Admin.RevokeToken(ctx, &pb.RevokeTokenRequest{Id: "000000000000"})
	wantStatus(t, err, codes.NotFound, "tokens list")

	list, err = c.Admin.ListTokens(ctx, &pb.ListTokensRequest{HireId: "h1"})
	if err != nil {
		t.Fatal(err)
	}
	states := map[string]string{}
	for _, tk := range list.GetTokens() {
		states[tk.GetId()] = tk.GetState()
		if strings.Contains(tk.String(), keep.GetToken()) || strings.Contains(tk.String(), drop.GetToken()) {
			t.Fatalf("token list shows a secret: %v", tk)
		}
	}
	if states[keep.GetId()] != "used" || states[drop.GetId()] != "revoked" || len(states) != 2 {
		t.Fatalf("states %v", states)
	}
	audit, _ := c.Admin.ListAudit(ctx, &pb.ListAuditRequest{Subject: "h1"})
	if !strings.Contains(audit.String(), "token.revoke") || !strings.Contains(audit.String(), "laptop never shipped") {
		t.Fatalf("audit lacks the revocation: %v", audit)
	}
}

// A token for a hire whose monitoring has ended is refused when it is
// created, and at enrollment if the end date passed after it was created.
func TestTokenRefusedAfterEndDate(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	clock := now
	c := testcollector.Start(t, func(cfg *server.Config) { cfg.Now = func() time.Time { return clock } })
	ctx := context.Background()
	if _, err := c.Admin.AddHires(ctx, &pb.AddHiresRequest{Hires: []*pb.Hire{
		{Id: "gone", Name: "Ana", ClaimedHome: "Austin, TX, US", EndDate: "2026-05-01"},
		{Id: "ending", Name: "Bo", ClaimedHome: "Austin, TX, US", EndDate: "2026-06-02"},
	}}); err != nil {
		t.Fatal(err)
	}
	_, err := c.Admin.CreateToken(ctx, &pb.CreateTokenRequest{HireId: "gone"})
	wantStatus(t, err, codes.FailedPrecondition, "monitoring ended on 2026-05-01")
	tok, err := c.Admin.CreateToken(ctx, &pb.CreateTokenRequest{HireId: "ending", TtlSeconds: 7 * 24 * 3600})
	if err != nil {
		t.Fatal(err)
	}
	clock = now.Add(3 * 24 * time.Hour)
	err = enrollFrom(c, enrollIP, tok.GetToken())
	wantStatus(t, err, codes.FailedPrecondition, "monitoring of hire ending ended on 2026-06-02")
}

// adminConn dials the admin API with an admin certificate issued by the
// collector.
func adminConn(t *testing.T, c *testcollector.Collector, certPEM, keyPEM []byte) pb.AdminServiceClient {
	t.Helper()
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(c.CA().Cert)
	cc, err := grpc.NewClient(c.Addr(), grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{
		Certificates: []tls.Certificate{cert}, RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS13})))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return pb.NewAdminServiceClient(cc)
}

// issue has admin issue a certificate of role for days and returns a
// client holding it, and the response.
func issue(t *testing.T, c *testcollector.Collector, admin pb.AdminServiceClient, name, role string, days uint32) (pb.AdminServiceClient, *pb.IssueAdminResponse, error) {
	t.Helper()
	keyPEM, csrPEM, err := pki.NewKeyAndCSR(name)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := admin.IssueAdmin(context.Background(), &pb.IssueAdminRequest{Name: name, Role: role, CsrPem: csrPEM, ValidDays: days})
	if err != nil {
		return nil, nil, err
	}
	return adminConn(t, c, resp.GetCertificatePem(), keyPEM), resp, nil
}

// A revoked admin certificate is refused from its very next call, with a
// status naming the revocation; the revocation is in the audit trail and
// in `admin list`, and survives a restart.
func TestAdminRevokeIsImmediate(t *testing.T) {
	c := testcollector.Start(t, nil)
	ctx := context.Background()
	ana, resp, err := issue(t, c, c.Admin, "ana", pki.RoleReviewer, 30)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ana.ListHires(ctx, &pb.ListHiresRequest{}); err != nil {
		t.Fatalf("before revocation: %v", err)
	}
	list, err := c.Admin.ListAdmins(ctx, &pb.ListAdminsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]string{}
	for _, a := range list.GetCertificates() {
		names[a.GetSerial()] = a.GetName()
	}
	if names[resp.GetSerial()] != "ana" || len(names) != 2 { // ana and the local operator
		t.Fatalf("admin list %v, want ana's serial %s and local-operator", names, resp.GetSerial())
	}
	if _, err := c.Admin.RevokeAdmin(ctx, &pb.RevokeAdminRequest{Serial: strings.ToUpper(resp.GetSerial()), Note: "left the team"}); err != nil {
		t.Fatal(err)
	}
	_, err = ana.ListHires(ctx, &pb.ListHiresRequest{})
	wantStatus(t, err, codes.Unauthenticated, "was revoked at")
	stream, err := ana.Backup(ctx, &pb.BackupRequest{})
	if err == nil {
		_, err = stream.Recv()
	}
	wantStatus(t, err, codes.Unauthenticated, "was revoked at")
	c.Stop()
	c.Restart(t)
	_, err = ana.ListHires(ctx, &pb.ListHiresRequest{})
	wantStatus(t, err, codes.Unauthenticated, "was revoked at")
	audit, _ := c.Admin.ListAudit(ctx, &pb.ListAuditRequest{Subject: "ana"})
	if !strings.Contains(audit.String(), "admin.revoke") || !strings.Contains(audit.String(), "left the team") {
		t.Fatalf("audit lacks the revocation: %v", audit)
	}
	_, err = c.Admin.RevokeAdmin(ctx, &pb.RevokeAdminRequest{Serial: "abc123", Note: "typo"})
	wantStatus(t, err, codes.NotFound, "admin list")
	_, err = c.Admin.RevokeAdmin(ctx, &pb.RevokeAdminRequest{Serial: resp.GetSerial()})
	wantStatus(t, err, codes.InvalidArgument, "note")
}

// An issuer cannot mint a certificate that outlives its own, nor one with a
// higher role; the default validity is capped at the issuer's own end.
func TestAdminIssueBoundedByIssuer(t *testing.T) {
	c := testcollector.Start(t, nil)
	bo, boResp, err := issue(t, c, c.Admin, "bo", pki.RoleReviewer, 10)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = issue(t, c, bo, "cy", pki.RoleViewer, 30)
	wantStatus(t, err, codes.FailedPrecondition, "would outlive yours")
	_, cy, err := issue(t, c, bo, "cy", pki.RoleViewer, 0)
	if err != nil {
		t.Fatal(err)
	}
	if cy.GetExpiresAt().AsTime().After(boResp.GetExpiresAt().AsTime()) {
		t.Fatalf("cy's certificate ends %v, after its issuer's %v", cy.GetExpiresAt().AsTime(), boResp.GetExpiresAt().AsTime())
	}
	if _, _, err := issue(t, c, bo, "di", pki.RoleViewer, 9); err != nil {
		t.Fatalf("a shorter certificate: %v", err)
	}
	viewer, _, err := issue(t, c, c.Admin, "ed", pki.RoleViewer, 30)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = issue(t, c, viewer, "mallory", pki.RoleReviewer, 1)
	wantStatus(t, err, codes.PermissionDenied, "reviewer role")
}
