package store

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"testing"
	"time"

	"github.com/farmwatch/farmwatch/internal/pgtest"
)

// BenchmarkPrune measures retention on each backend: 50,000 reports of
// 1,500 bytes (the measured size of a stored report), all past the cutoff,
// deleted in transactions of 5,000 as the collector's retention loop does.
//
//	go test -run '^$' -bench BenchmarkPrune -benchtime 1x ./collector/store/
func BenchmarkPrune(b *testing.B) {
	const reports, batch = 50_000, 5_000
	backends := []struct {
		name string
		open func(b *testing.B) *Store
	}{
		{"bolt", func(b *testing.B) *Store {
			s, err := Open(b.TempDir(), Options{})
			if err != nil {
				b.Fatal(err)
			}
			return s
		}},
		{"postgres", func(b *testing.B) *Store {
			s, err := OpenPostgres(context.Background(), pgtest.Shared(b).NewDatabase(b), Options{})
			if err != nil {
				b.Fatal(err)
			}
			return s
		}},
	}
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			var deleted int
			var took time.Duration
			for range b.N {
				s := be.open(b)
				value := make([]byte, 1500)
				rand.Read(value)
				base := time.Now().Add(-48 * time.Hour).UnixNano()
				for i := 0; i < reports; i += batch {
					if err := s.kv.Update(func(tx kvTx) error {
						bk := tx.Bucket(bucketReports)
						for j := i; j < i+batch; j++ {
							k := binary.BigEndian.AppendUint64(nil, uint64(base)+uint64(j)*1e6)
							k = binary.BigEndian.AppendUint64(k, uint64(j))
							if err := bk.Put(k, value); err != nil {
								return err
							}
						}
						return nil
					}); err != nil {
						b.Fatal(err)
					}
				}
				start := time.Now()
				for {
					n, err := s.Prune(time.Now().Add(-24*time.Hour), batch)
					if err != nil {
						b.Fatal(err)
					}
					deleted += n
					if n == 0 {
						break
					}
				}
				took += time.Since(start)
				s.Close()
			}
			if deleted != reports*b.N {
				b.Fatalf("pruned %d reports, want %d", deleted, reports*b.N)
			}
			b.ReportMetric(float64(deleted)/took.Seconds(), "reports/s")
			b.ReportMetric(float64(took.Microseconds())/float64(deleted), "µs/report")
		})
	}
}
