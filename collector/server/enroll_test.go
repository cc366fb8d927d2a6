package server_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"

	"github.com/farmwatch/farmwatch/agent/uplink"
	"github.com/farmwatch/farmwatch/collector/pki"
	"github.com/farmwatch/farmwatch/collector/server"
	"github.com/farmwatch/farmwatch/internal/testcollector"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
	"github.com/farmwatch/farmwatch/sim"
)

// enrollFrom enrolls with token through the collector's trusted balancer
// path, as a laptop whose public address is from.
func enrollFrom(c *testcollector.Collector, from netip.Addr, token string) error {
	_, _, err := uplink.Enroll(context.Background(), uplink.EnrollOptions{Collector: c.Addr(), Token: token,
		Hostname: "laptop", DialOptions: []grpc.DialOption{sim.ViaProxy(from)}})
	return err
}

// One host behind a NAT guesses tokens; a laptop behind the same NAT (the
// same public address) still enrolls with its valid token, and the guesser
// is answered "wait" once past its allowance. No guess costs a signature.
func TestEnrollmentGuessingBehindNAT(t *testing.T) {
	c := testcollector.Start(t, func(cfg *server.Config) {
		cfg.RateLimits = server.DefaultRateLimits()
		cfg.RateLimits.BadTokenLimit = 3
	})
	ctx := context.Background()
	if _, err := c.Admin.AddHires(ctx, &pb.AddHiresRequest{Hires: []*pb.Hire{{Id: "h1", Name: "Hire One", ClaimedHome: "Austin, TX, US"}}}); err != nil {
		t.Fatal(err)
	}
	nat := netip.MustParseAddr("198.51.100.20")
	guess := func(i int) string { return fmt.Sprintf("fwt_%032x", i) }

	for i := range 3 {
		err := enrollFrom(c, nat, guess(i))
		wantStatus(t, err, codes.Unauthenticated, "not valid")
	}
	// The 4th failure starts the backoff; from then on the guesser is told to wait.
	enrollFrom(c, nat, guess(3))
	for i := 4; i < 10; i++ {
		err := enrollFrom(c, nat, guess(i))
		wantStatus(t, err, codes.ResourceExhausted, "wait until")
	}
	if n := c.CSRsSigned(); n != 0 {
		t.Fatalf("%d CSRs signed for bad tokens", n)
	}

	tok, err := c.Admin.CreateToken(ctx, &pb.CreateTokenRequest{HireId: "h1"})
	if err != nil {
		t.Fatal(err)
	}
	if err := enrollFrom(c, nat, tok.GetToken()); err != nil {
		t.Fatalf("a valid token from the guesser's NAT: %v", err)
	}
	if n := c.CSRsSigned(); n != 1 {
		t.Fatalf("%d CSRs signed, want the valid enrollment's 1", n)
	}
	// The guesser still waits, and a spent token is a failure like a guess.
	wantStatus(t, enrollFrom(c, nat, guess(10)), codes.ResourceExhausted, "wait until")
	wantStatus(t, enrollFrom(c, nat, tok.GetToken()), codes.ResourceExhausted, "already used")
	// The limit is the address the balancer names, not the balancer.
	wantStatus(t, enrollFrom(c, netip.MustParseAddr("198.51.100.21"), guess(11)), codes.Unauthenticated, "not valid")
	if n := c.CSRsSigned(); n != 1 {
		t.Fatalf("%d CSRs signed after more bad tokens, want 1", n)
	}
}

// A bad token is refused before its CSR is even read: a request with a
// bad token and a malformed CSR is answered about the token.
func TestBadTokenRefusedBeforeCSR(t *testing.T) {
	c := testcollector.Start(t, nil)
	pool := x509.NewCertPool()
	pool.AddCert(c.CA().Cert)
	cc, err := grpc.NewClient(c.Addr(), grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{
		RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS13})))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err = pb.NewAgentServiceClient(cc).Enroll(ctx, &pb.EnrollRequest{Token: "fwt_00000000000000000000000000000000",
		CsrPem: []byte("-----BEGIN CERTIFICATE REQUEST-----\nnot a CSR\n-----END CERTIFICATE REQUEST-----\n")})
	wantStatus(t, err, codes.Unauthenticated, "not valid")
	if n := c.CSRsSigned(); n != 0 {
		t.Fatalf("%d CSRs signed for a bad token", n)
	}
	// A good CSR with a bad token: refused the same way, nothing signed.
	_, csrPEM, err := pki.NewKeyAndCSR("x")
	if err != nil {
		t.Fatal(err)
	}
	_, err = pb.NewAgentServiceClient(cc).Enroll(ctx, &pb.EnrollRequest{Token: "fwt_00000000000000000000000000000001", CsrPem: csrPEM})
	wantStatus(t, err, codes.Unauthenticated, "not valid")
	if n := c.CSRsSigned(); n != 0 {
		t.Fatalf("%d CSRs signed for bad tokens", n)
	}
}
