package server_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/farmwatch/farmwatch/agent/uplink"
	"github.com/farmwatch/farmwatch/collector/pki"
	"github.com/farmwatch/farmwatch/collector/server"
	"github.com/farmwatch/farmwatch/collector/store"
	"github.com/farmwatch/farmwatch/internal/testcollector"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// otherCA makes a CA the collector has never seen, and a device-role
// certificate from it.
func otherCA(t *testing.T) (certPEM, keyPEM []byte, ca *pki.CA) {
	t.Helper()
	dir := t.TempDir()
	ca, _, err := pki.LoadOrCreateCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM, csrPEM, _ := pki.NewKeyAndCSR("x")
	certPEM, err = ca.SignCSR(csrPEM, "d-00000000deadbeef", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return certPEM, keyPEM, ca
}

func TestCertificateFromAnotherCARefused(t *testing.T) {
	c, _, _ := enrolled(t, nil)
	certPEM, keyPEM, _ := otherCA(t)
	forged := &uplink.Identity{DeviceID: "d-00000000deadbeef", Collector: c.Addr(), CertPEM: certPEM, KeyPEM: keyPEM, CAPEM: c.CA().PEM}
	conn, err := uplink.Dial(forged)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// The server rejects the chain during the TLS 1.3 handshake; depending
	// on timing the client reads the alert ("bad certificate") or finds the
	// connection already closed. Either way the call fails and nothing is stored.
	_, err = conn.Send(context.Background(), []*pb.Report{report(1)})
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("a certificate from another CA: %v, want the connection refused", err)
	}
	t.Logf("refused: %v", err)
	if n := storedCount(t, c); n != 0 {
		t.Fatalf("%d reports stored", n)
	}
}

func TestRevokedDeviceRefusedAtOnce(t *testing.T) {
	c, conn, id := enrolled(t, nil)
	ctx := context.Background()
	if _, err := conn.Send(ctx, []*pb.Report{report(1)}); err != nil {
		t.Fatal(err)
	}
	_, err := c.Admin.RevokeDevice(ctx, &pb.RevokeDeviceRequest{Id: id.DeviceID})
	wantStatus(t, err, codes.InvalidArgument, "note")
	if _, err := viewer(t, c).RevokeDevice(ctx, &pb.RevokeDeviceRequest{Id: id.DeviceID, Note: "x"}); err == nil {
		t.Fatal("a viewer revoked a device")
	}
	d, err := c.Admin.RevokeDevice(ctx, &pb.RevokeDeviceRequest{Id: id.DeviceID, Note: "laptop returned"})
	if err != nil || d.GetRevokedAt() == nil || d.GetRevokedBy() != "local-operator" {
		t.Fatalf("revoke: %v %v", d, err)
	}
	// The same, still open connection is refused on its next call.
	_, err = conn.Send(ctx, []*pb.Report{report(2)})
	wantStatus(t, err, codes.PermissionDenied, "was revoked")
	if n := storedCount(t, c); n != 1 {
		t.Fatalf("%d reports stored, want 1", n)
	}
	audit, _ := c.Admin.ListAudit(ctx, &pb.ListAuditRequest{Subject: id.DeviceID})
	if len(audit.GetEntries()) != 1 || audit.GetEntries()[0].GetAction() != "device.revoke" {
		t.Fatalf("audit %v", audit.GetEntries())
	}
}

func TestIssueAdminRoles(t *testing.T) {
	c := testcollector.Start(t, nil)
	ctx := context.Background()
	keyPEM, csrPEM, _ := pki.NewKeyAndCSR("ana")
	resp, err := c.Admin.IssueAdmin(ctx, &pb.IssueAdminRequest{Name: "ana@example.com", Role: "viewer", CsrPem: csrPEM})
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := tls.X509KeyPair(resp.GetCertificatePem(), keyPEM)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(resp.GetCaPem())
	cc, err := grpc.NewClient(c.Addr(), grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{
		Certificates: []tls.Certificate{cert}, RootCAs: pool, ServerName: "127.0.0.1"})))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	ana := pb.NewAdminServiceClient(cc)
	if _, err := ana.ListAlerts(ctx, &pb.ListAlertsRequest{}); err != nil {
		t.Fatalf("viewer read: %v", err)
	}
	_, err = ana.IssueAdmin(ctx, &pb.IssueAdminRequest{Name: "mallory", Role: "reviewer", CsrPem: csrPEM})
	wantStatus(t, err, codes.PermissionDenied, "reviewer role")
	_, err = ana.Backup(ctx, &pb.BackupRequest{})
	if err == nil {
		stream, _ := ana.Backup(ctx, &pb.BackupRequest{})
		_, err = stream.Recv()
	}
	wantStatus(t, err, codes.PermissionDenied, "reviewer role")
	_, err = c.Admin.IssueAdmin(ctx, &pb.IssueAdminRequest{Name: "bob", Role: "root", CsrPem: csrPEM})
	wantStatus(t, err, codes.InvalidArgument, "want viewer or reviewer")
	_, err = c.Admin.IssueAdmin(ctx, &pb.IssueAdminRequest{Name: "bob", Role: "viewer", CsrPem: []byte("junk")})
	wantStatus(t, err, codes.InvalidArgument, "csr_pem")
	audit, _ := c.Admin.ListAudit(ctx, &pb.ListAuditRequest{Subject: "ana@example.com"})
	if len(audit.GetEntries()) != 1 || audit.GetEntries()[0].GetAction() != "admin.issue" {
		t.Fatalf("audit %v", audit.GetEntries())
	}
}

func TestOnlineBackupIsConsistent(t *testing.T) {
	c, conn, id := enrolled(t, nil)
	ctx := context.Background()
	for q := uint64(1); q <= 20; q++ {
		if _, err := conn.Send(ctx, []*pb.Report{report(q)}); err != nil {
			t.Fatal(err)
		}
	}
	stream, err := c.Admin.Backup(ctx, &pb.BackupRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if testcollector.Postgres() {
		// The collector copies only its own bbolt file; it sends the
		// operator to the database's tools.
		_, err := stream.Recv()
		wantStatus(t, err, codes.FailedPrecondition, "back up the database with its own tools (pg_dump")
		return
	}
	path := filepath.Join(t.TempDir(), "backup.db")
	f, _ := os.Create(path)
	var size uint64
	for {
		chunk, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if chunk.GetSize() > 0 {
			size = chunk.GetSize()
		}
		f.Write(chunk.GetData())
	}
	f.Close()
	if st, _ := os.Stat(path); uint64(st.Size()) != size {
		t.Fatalf("backup is %d bytes, announced %d", st.Size(), size)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatalf("backup is not a bbolt file: %v", err)
	}
	defer db.Close()
	db.View(func(tx *bolt.Tx) error {
		if n := tx.Bucket([]byte("reports")).Stats().KeyN; n != 20 {
			t.Errorf("backup holds %d reports, want 20", n)
		}
		if tx.Bucket([]byte("devices")).Get([]byte(id.DeviceID)) == nil {
			t.Error("backup lacks the device")
		}
		return nil
	})
}

func TestRateLimitsAndLockout(t *testing.T) {
	c, conn, _ := enrolled(t, func(cfg *server.Config) {
		cfg.RateLimits = server.RateLimits{DeviceRate: 1, DeviceBurst: 3, TokenAttempts: 2, TokenWindow: time.Minute,
			BadTokenLimit: 3, BadTokenWindow: time.Minute, BackoffBase: time.Minute, BackoffMax: time.Minute}
	})
	ctx := context.Background()
	var limited error
	for q := uint64(1); q <= 10 && limited == nil; q++ {
		_, limited = conn.Send(ctx, []*pb.Report{report(q)})
	}
	wantStatus(t, limited, codes.ResourceExhausted, "calls a second")

	// One token tried too often.
	tok, _ := c.Admin.CreateToken(ctx, &pb.CreateTokenRequest{HireId: "h1"})
	for range 2 {
		uplink.Enroll(ctx, uplink.EnrollOptions{Collector: c.Addr(), Token: tok.GetToken(), Hostname: strings.Repeat("x", 300)})
	}
	_, _, err := uplink.Enroll(ctx, uplink.EnrollOptions{Collector: c.Addr(), Token: tok.GetToken()})
	wantStatus(t, err, codes.ResourceExhausted, "too many attempts with this token")

	// Guessing tokens backs the address's failures off, never a good token
	// (TestEnrollmentGuessingBehindNAT).
	for i := range 5 {
		_, _, err = uplink.Enroll(ctx, uplink.EnrollOptions{Collector: c.Addr(), Token: "fwt_guess" + string(rune('a'+i))})
	}
	wantStatus(t, err, codes.ResourceExhausted, "wait until")
	good, _ := c.Admin.CreateToken(ctx, &pb.CreateTokenRequest{HireId: "h1"})
	if _, _, err = uplink.Enroll(ctx, uplink.EnrollOptions{Collector: c.Addr(), Token: good.GetToken()}); err != nil {
		t.Fatalf("a good token from the backing-off address: %v", err)
	}
}

func TestOperatorSuppliedCA(t *testing.T) {
	dir := t.TempDir()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "Example Corp farmwatch CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().AddDate(1, 0, 0), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	kder, _ := x509.MarshalECPrivateKey(key)
	os.WriteFile(filepath.Join(dir, "ca.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	os.WriteFile(filepath.Join(dir, "ca.key"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600)
	c := testcollector.Start(t, func(cfg *server.Config) {
		cfg.CACert, cfg.CAKey = filepath.Join(dir, "ca.pem"), filepath.Join(dir, "ca.key")
	})
	if c.CA().Cert.Subject.CommonName != "Example Corp farmwatch CA" {
		t.Fatalf("collector uses CA %q", c.CA().Cert.Subject.CommonName)
	}
	if _, err := c.Admin.ListHires(context.Background(), &pb.ListHiresRequest{}); err != nil {
		t.Fatalf("local admin under the operator CA: %v", err)
	}
	if _, err := os.Stat(filepath.Join(c.Data, "tls", "ca-key.pem")); err == nil {
		t.Error("the collector wrote a CA key of its own beside the operator's")
	}
	_ = timestamppb.Now
}

func TestRetentionPrunesOldReports(t *testing.T) {
	now := time.Now()
	clock := func() time.Time { return now }
	c, conn, id := enrolled(t, func(cfg *server.Config) {
		cfg.Now = func() time.Time { return clock() }
		cfg.Retention = 30 * 24 * time.Hour
	})
	ctx := context.Background()
	for q := uint64(1); q <= 3; q++ {
		if _, err := conn.Send(ctx, []*pb.Report{report(q)}); err != nil {
			t.Fatal(err)
		}
	}
	// Alert events are kept as long as reports: two now, one 20 days on.
	putAlert := func(id string) {
		t.Helper()
		if err := c.Server.Store().Update(func(tx *store.Tx) error {
			return tx.PutAlert("d-"+id, &pb.Alert{Id: id, Kind: "device", DeviceId: "d-" + id, Status: "open", Score: 0.7})
		}); err != nil {
			t.Fatal(err)
		}
	}
	putAlert("A-900001")
	putAlert("A-900002")
	clock = func() time.Time { return now.Add(20 * 24 * time.Hour) }
	putAlert("A-900003")
	r := report(4)
	r.CollectedAt = timestamppb.New(clock())
	if _, err := conn.Send(ctx, []*pb.Report{r}); err != nil {
		t.Fatal(err)
	}
	clock = func() time.Time { return now.Add(31 * 24 * time.Hour) }
	n, err := c.PruneReports()
	if err != nil || n != 3 {
		t.Fatalf("pruned %d (%v), want the 3 reports older than 30 days", n, err)
	}
	rs, _ := c.Admin.ListReports(ctx, &pb.ListReportsRequest{DeviceId: id.DeviceID})
	if len(rs.GetReports()) != 1 || rs.GetReports()[0].GetReport().GetSeq() != 4 {
		t.Fatalf("left %v", rs.GetReports())
	}
	kept, err := c.Server.Store().AlertEvents(0, 100)
	if err != nil || len(kept) == 0 {
		t.Fatalf("alert events kept: %v %v; want the newest at least", kept, err)
	}
	for _, ev := range kept {
		if ev.GetAt().AsTime().Before(now.Add(24 * time.Hour)) {
			t.Errorf("alert event %d of %s (older than 30 days) was kept", ev.GetId(), ev.GetAt().AsTime())
		}
	}
	if kept[len(kept)-1].GetAlert().GetId() != "A-900003" {
		t.Errorf("the newest event is %v", kept[len(kept)-1])
	}
}
