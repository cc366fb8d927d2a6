package main

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/farmwatch/farmwatch/collector/store"
	"github.com/farmwatch/farmwatch/internal/pgtest"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// storeCopySource writes a small store as a collector would and closes it.
func storeCopySource(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	s, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	err = s.Update(func(tx *store.Tx) error {
		for i := range 5 {
			id := fmt.Sprintf("h-%d", i)
			if err := tx.PutHire(&pb.Hire{Id: id, Name: "Hire " + id}); err != nil {
				return err
			}
			if err := tx.PutDevice(&pb.Device{Id: "d-" + id, HireId: id}); err != nil {
				return err
			}
			if err := tx.Audit(t0, "ana@example.com", "hire.create", id, ""); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var batch []*pb.StoredReport
	for q := uint64(1); q <= 60; q++ {
		at := t0.Add(time.Duration(q) * time.Minute)
		batch = append(batch, &pb.StoredReport{ReceivedAt: timestamppb.New(at), PublicIp: "203.0.113.7",
			Report: &pb.Report{Seq: q, CollectedAt: timestamppb.New(at), Host: &pb.Host{Hostname: "laptop"}}})
	}
	if _, err := s.Ingest("d-h-1", batch); err != nil {
		t.Fatal(err)
	}
	if err := s.StageApplicants("imp-1", 1, []*pb.Applicant{{Id: "ap-1"}, {Id: "ap-2"}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

// `farmwatch store copy` as an operator runs it: the table, the checksum,
// progress on stderr; a second copy refused; --verify; the usage mistakes.
func TestStoreCopyCLI(t *testing.T) {
	c := pgtest.Shared(t)
	url := c.NewDatabase(t)
	dir := storeCopySource(t)

	status, stdout, stderr := runBinary(t, "farmwatch", "store", "copy", "--from", dir, "--to", url)
	if status != 0 {
		t.Fatalf("copy: exit status %d\n%s%s", status, stdout, stderr)
	}
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^BUCKET\s+KEYS\s+BYTES\s+SEQUENCE$`),
		regexp.MustCompile(`(?m)^reports\s+60\s+\d+\s+0$`),
		regexp.MustCompile(`(?m)^hires\s+5\s+\d+\s+0$`),
		regexp.MustCompile(`(?m)^audit\s+5\s+\d+\s+5$`),
		regexp.MustCompile(`(?m)^applicant_staging/imp-1\s+2\s+\d+\s+0$`),
		regexp.MustCompile(`(?m)^checksum sha256:[0-9a-f]{64}$`),
		regexp.MustCompile(`(?m)^copied .*farmwatch\.db to 127\.0\.0\.1:\d+/\S+ in \S+ \(\d+ keys/s, [0-9.]+ MB/s\)$`),
		regexp.MustCompile(`(?m)^verified: the copy in `),
	} {
		if !want.MatchString(stdout) {
			t.Errorf("stdout lacks %s:\n%s", want, stdout)
		}
	}
	if !strings.Contains(stderr, "copied ") || !strings.Contains(stderr, "compared ") {
		t.Errorf("stderr shows no progress:\n%s", stderr)
	}
	if strings.Contains(stdout+stderr, c.Password()) {
		t.Error("the output shows the database password")
	}
	sum := regexp.MustCompile(`checksum sha256:[0-9a-f]{64}`).FindString(stdout)

	status, vout, stderr := runBinary(t, "farmwatch", "store", "copy", "--verify", "--from", dir, "--to", url)
	if status != 0 || !strings.Contains(vout, sum) || strings.Contains(vout, "copied ") {
		t.Fatalf("verify: exit status %d, want the checksum %s and no copy\n%s%s", status, sum, vout, stderr)
	}

	status, _, stderr = runBinary(t, "farmwatch", "store", "copy", "--from", dir, "--to", url)
	if status != 1 || !strings.Contains(stderr, "already holds a farmwatch store") {
		t.Fatalf("second copy: exit status %d\n%s", status, stderr)
	}

	// A row changed in the database: --verify names the bucket.
	if err := c.Exec(t.Context(), url[strings.LastIndex(url, "/")+1:strings.IndexByte(url, '?')],
		`UPDATE kv SET v = v || '\x00'::bytea WHERE bucket = 'hires' AND k = 'h-2'::bytea`); err != nil {
		t.Fatal(err)
	}
	status, _, stderr = runBinary(t, "farmwatch", "store", "copy", "--verify", "--from", dir, "--to", url)
	if status != 1 || !strings.Contains(stderr, "bucket hires differs") {
		t.Fatalf("verify of a changed copy: exit status %d\n%s", status, stderr)
	}

	for _, tt := range []struct {
		args   []string
		status int
		stderr string
	}{
		{[]string{"--to", url}, 2, "--from is required"},
		{[]string{"--from", dir}, 2, "--to is required"},
		{[]string{"--from", dir, "--to", "mysql://root:hunter2@db/x"}, 2, `--to "mysql://root:xxxxx@db/x" is not a PostgreSQL URL`},
		{[]string{"--from", dir, "--to", "postgres://u:hunter2@127.0.0.1:1/x?connect_timeout=2"}, 1, "cannot reach PostgreSQL at 127.0.0.1:1"},
		{[]string{"--from", t.TempDir(), "--to", c.NewDatabase(t)}, 1, "holds no farmwatch.db"},
		{[]string{"stray", "--from", dir, "--to", url}, 2, `unknown command "stray"`},
	} {
		status, _, stderr := runBinary(t, "farmwatch", append([]string{"store", "copy"}, tt.args...)...)
		if status != tt.status || !strings.Contains(stderr, tt.stderr) || strings.Contains(stderr, "hunter2") {
			t.Errorf("store copy %s: exit status %d, want %d with %q\n%s", strings.Join(tt.args, " "), status, tt.status, tt.stderr, stderr)
		}
	}
}

// The file of a running collector is refused, saying to stop it.
func TestStoreCopyCLILockedSource(t *testing.T) {
	dir := storeCopySource(t)
	s, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	url := pgtest.Shared(t).NewDatabase(t)
	status, _, stderr := runBinary(t, "farmwatch", "store", "copy", "--from", dir, "--to", url)
	if status != 1 || !strings.Contains(stderr, "locked by another process") || !strings.Contains(stderr, "stop the collector") {
		t.Fatalf("copy of a store in use: exit status %d\n%s", status, stderr)
	}
}
