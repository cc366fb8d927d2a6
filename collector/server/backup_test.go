package server_test

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"io"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/farmwatch/farmwatch/collector/pki"
	"github.com/farmwatch/farmwatch/collector/server"
	"github.com/farmwatch/farmwatch/internal/testcollector"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// backupReviewer is a reviewer's admin client whose flow-control windows
// stay at gRPC's 64 KiB: once it stops reading, the server can push no more
// than that, whatever the connection's bandwidth.
func backupReviewer(t *testing.T, c *testcollector.Collector) pb.AdminServiceClient {
	t.Helper()
	certPEM, keyPEM, err := c.CA().IssueAdmin("backup-operator", pki.RoleReviewer, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(c.CA().Cert)
	cc, err := grpc.NewClient(c.Addr(),
		grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: pool, ServerName: "127.0.0.1"})),
		grpc.WithInitialWindowSize(64<<10), grpc.WithInitialConnWindowSize(64<<10))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return pb.NewAdminServiceClient(cc)
}

// fillStore stores reports of device id straight into the store until its
// data passes minBytes: more than a paused client's window takes.
func fillStore(t *testing.T, c *testcollector.Collector, id string, minBytes int64) {
	t.Helper()
	seq := uint64(1000) // past the few reports tests send themselves, within what a spool could hold
	for storeSize(t, c) < minBytes {
		batch := make([]*pb.StoredReport, 200)
		for i := range batch {
			noise := make([]byte, 3000) // incompressible
			rand.Read(noise)
			r := report(seq)
			r.Host.HardwareModel = hex.EncodeToString(noise)
			batch[i] = &pb.StoredReport{Report: r, ReceivedAt: timestamppb.Now(), PublicIp: "203.0.113.9"}
			seq++
		}
		if _, err := c.Store().Ingest(id, batch); err != nil {
			t.Fatal(err)
		}
	}
}

func storeSize(t *testing.T, c *testcollector.Collector) int64 {
	t.Helper()
	tx, err := c.Store().DB().Begin(false)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	return tx.Size()
}

// copiesIn lists the backup copies in a collector's data dir.
func copiesIn(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "farmwatch.db.backup-*.tmp"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func waitNoCopies(t *testing.T, dir string, within time.Duration) {
	t.Helper()
	for start := time.Now(); len(copiesIn(t, dir)) > 0; time.Sleep(10 * time.Millisecond) {
		if time.Since(start) > within {
			t.Fatalf("the backup copy is still in the data dir after %s: %v", within, copiesIn(t, dir))
		}
	}
}

// readBackup reads a whole backup stream and returns its size and length.
func readBackup(stream pb.AdminService_BackupClient) (size, got uint64, err error) {
	for {
		chunk, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return size, got, nil
		}
		if err != nil {
			return size, got, err
		}
		if chunk.GetSize() > 0 {
			size = chunk.GetSize()
		}
		got += uint64(len(chunk.GetData()))
	}
}

func TestBackupOneAtATimeAndRemovedOnDisconnect(t *testing.T) {
	testcollector.SkipOnPostgres(t, "the admin API's backup streams a copy of the bbolt file; a PostgreSQL store is backed up with pg_dump or base backups")
	c, _, id := enrolled(t, nil)
	fillStore(t, c, id.DeviceID, 4<<20)
	admin := backupReviewer(t, c)

	ctx, hangUp := context.WithCancel(context.Background())
	defer hangUp()
	paused, err := admin.Backup(ctx, &pb.BackupRequest{})
	if err != nil {
		t.Fatal(err)
	}
	first, err := paused.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if n := len(copiesIn(t, c.Data)); n != 1 {
		t.Fatalf("%d copies in the data dir while a backup is read, want 1", n)
	}
	// A second backup meanwhile is refused: each needs the store's size free.
	second, err := admin.Backup(context.Background(), &pb.BackupRequest{})
	if err == nil {
		_, err = second.Recv()
	}
	wantStatus(t, err, codes.ResourceExhausted, "another backup")

	// The client goes away: its copy goes too, and the next backup is whole.
	hangUp()
	waitNoCopies(t, c.Data, 10*time.Second)
	var size, got uint64
	for start := time.Now(); ; time.Sleep(20 * time.Millisecond) {
		stream, err := admin.Backup(context.Background(), &pb.BackupRequest{})
		if err == nil {
			size, got, err = readBackup(stream)
		}
		if err == nil {
			break
		}
		// The slot is freed once the abandoned stream has noticed.
		if status.Code(err) != codes.ResourceExhausted || time.Since(start) > 10*time.Second {
			t.Fatalf("backup after a client went away: %v", err)
		}
	}
	if got != size || size < first.GetSize() {
		t.Fatalf("backup after a client went away: %d of %d bytes (the abandoned one announced %d)", got, size, first.GetSize())
	}
	waitNoCopies(t, c.Data, 10*time.Second)
}

func TestBackupStalledClientIsCutOff(t *testing.T) {
	testcollector.SkipOnPostgres(t, "the admin API's backup streams a copy of the bbolt file; a PostgreSQL store is backed up with pg_dump or base backups")
	server.SetBackupStallLimit(t, 300*time.Millisecond)
	c, _, id := enrolled(t, nil)
	fillStore(t, c, id.DeviceID, 4<<20)
	admin := backupReviewer(t, c)

	stalled, err := admin.Backup(context.Background(), &pb.BackupRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stalled.Recv(); err != nil {
		t.Fatal(err)
	}
	// The client reads nothing more: the collector removes its copy.
	waitNoCopies(t, c.Data, 10*time.Second)
	// Reading on, the client gets what was already under way, then why it
	// ended.
	_, _, err = readBackup(stalled)
	wantStatus(t, err, codes.DeadlineExceeded, "read nothing for 300ms")
}
