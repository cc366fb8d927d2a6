package store

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/farmwatch/farmwatch/internal/pgtest"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// BenchmarkCopyToPostgres copies stores of about 100,000 keys into a fresh
// database of a local cluster and reports the rate of the copy alone
// (copy-keys/s, copy-MB/s of keys and values) and of the copy with its
// verification (keys/s): "reports" holds 50,000 small reports of 50 devices
// and their report index, written through the store; "values-2KiB" 100,000
// keys of 2 KiB random values, the size of a full report.
//
//	go test -run '^$' -bench CopyToPostgres -benchtime 2x ./collector/store/
func BenchmarkCopyToPostgres(b *testing.B) {
	b.Run("reports", func(b *testing.B) { benchCopy(b, benchReportStore(b)) })
	b.Run("values-2KiB", func(b *testing.B) { benchCopy(b, benchValueStore(b, 100_000, 2048)) })
}

func benchReportStore(b *testing.B) string {
	dir := b.TempDir()
	s, err := Open(dir, Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	t0 := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	for d := range 50 {
		dev := fmt.Sprintf("d-%02d", d)
		if err := s.Update(func(tx *Tx) error {
			return tx.PutDevice(&pb.Device{Id: dev, HireId: "h-" + dev})
		}); err != nil {
			b.Fatal(err)
		}
		var batch []*pb.StoredReport
		for q := uint64(1); q <= 1000; q++ {
			at := t0.Add(time.Duration(q) * time.Minute)
			batch = append(batch, &pb.StoredReport{ReceivedAt: timestamppb.New(at), PublicIp: fmt.Sprintf("203.0.113.%d", d),
				Report: &pb.Report{Seq: q, CollectedAt: timestamppb.New(at),
					Host: &pb.Host{Hostname: dev + "-laptop", Os: "linux", Platform: "debian", KernelVersion: fmt.Sprintf("6.1.0-%d-amd64", q%30)}}})
		}
		if _, err := s.Ingest(dev, batch); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	return dir
}

// benchValueStore is a store with n keys of random values of size bytes in
// its reports bucket, under keys of a report's layout.
func benchValueStore(b *testing.B, n, size int) string {
	dir := b.TempDir()
	s, err := Open(dir, Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	s.Close()
	db, err := bolt.Open(filepath.Join(dir, File), 0o600, &bolt.Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	v := make([]byte, size)
	for i := 0; i < n; {
		err := db.Update(func(tx *bolt.Tx) error {
			bk := tx.Bucket(bucketReports)
			for end := min(i+10_000, n); i < end; i++ {
				for j := range v {
					v[j] = byte(rng.Uint32())
				}
				// A report key: receive time, then writer 1's count.
				if err := bk.Put(append(u64(uint64(i)), u64(1<<reportWordCountBits|uint64(i))...), v); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	return dir
}

func benchCopy(b *testing.B, dir string) {
	c := pgtest.Shared(b)
	var keys, size int64
	var copied, total time.Duration
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		url := c.NewDatabase(b)
		b.StartTimer()
		start := time.Now()
		res, err := CopyToPostgres(context.Background(), dir, url, CopyOptions{})
		if err != nil {
			b.Fatal(err)
		}
		total += time.Since(start)
		copied += res.Copied
		keys, size = res.Keys, res.Bytes
	}
	n := float64(b.N)
	b.ReportMetric(float64(keys), "keys")
	b.ReportMetric(float64(size)/1e6, "MB")
	b.ReportMetric(float64(keys)*n/copied.Seconds(), "copy-keys/s")
	b.ReportMetric(float64(size)*n/1e6/copied.Seconds(), "copy-MB/s")
	b.ReportMetric(float64(keys)*n/total.Seconds(), "keys/s")
}
