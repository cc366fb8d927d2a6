package store

import (
	"encoding/binary"
	"testing"

	"github.com/farmwatch/farmwatch/internal/pgtest"
)

// Costs of the engines' basic operations, per operation:
//
//	go test -run '^$' -bench BenchmarkKVEngine ./collector/store/
//
// The PostgreSQL engine runs on the test binary's shared local cluster
// (fsync on), so the numbers are round trips over loopback plus PostgreSQL's
// work; over a network each round trip costs the network's latency more.

func benchEngines(b *testing.B) []struct {
	name string
	open func(b *testing.B) kvEngine
} {
	return []struct {
		name string
		open func(b *testing.B) kvEngine
	}{
		{"bolt", func(b *testing.B) kvEngine { return openBoltTestEngine(b) }},
		{"pg", func(b *testing.B) kvEngine { return openPGTestEngine(b, pgtest.Shared(b).NewDatabase(b)) }},
	}
}

func benchKey(i int) []byte { return binary.BigEndian.AppendUint64(nil, uint64(i)) }

// benchFill puts n keys into bucket "b" in batches.
func benchFill(b *testing.B, e kvEngine, n int) {
	b.Helper()
	for start := 0; start < n || start == 0; start += 5000 {
		if err := e.Update(func(tx kvTx) error {
			bk, err := tx.CreateBucketIfNotExists([]byte("b"))
			if err != nil {
				return err
			}
			for i := start; i < min(start+5000, n); i++ {
				if err := bk.Put(benchKey(i), make([]byte, 100)); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkKVEngine(b *testing.B) {
	const keys = 20000
	for _, eng := range benchEngines(b) {
		b.Run(eng.name, func(b *testing.B) {
			e := eng.open(b)
			benchFill(b, e, keys)
			// Get: distinct keys, 1000 per View (the View's cost shared).
			b.Run("Get", func(b *testing.B) {
				for i := 0; i < b.N; {
					e.View(func(tx kvTx) error {
						bk := tx.Bucket([]byte("b"))
						for j := 0; j < 1000 && i < b.N; j, i = j+1, i+1 {
							if bk.Get(benchKey(i%keys)) == nil {
								b.Fatal("missing key")
							}
						}
						return nil
					})
				}
			})
			// Put: 1000 per Update, commit included.
			b.Run("Put", func(b *testing.B) {
				for i := 0; i < b.N; {
					if err := e.Update(func(tx kvTx) error {
						bk := tx.Bucket([]byte("b"))
						for j := 0; j < 1000 && i < b.N; j, i = j+1, i+1 {
							bk.Put(benchKey(keys+i), make([]byte, 100))
						}
						return nil
					}); err != nil {
						b.Fatal(err)
					}
				}
			})
			// PutEach (PostgreSQL): each Put sent on its own round trip, as
			// an engine that did not queue writes would; compare with Put.
			b.Run("PutEach", func(b *testing.B) {
				if eng.name != "pg" {
					b.Skip("PostgreSQL only")
				}
				for i := 0; i < b.N; {
					if err := e.Update(func(tx kvTx) error {
						bk := tx.Bucket([]byte("b"))
						for j := 0; j < 1000 && i < b.N; j, i = j+1, i+1 {
							bk.Put(benchKey(keys+i), make([]byte, 100))
							if err := tx.(*pgTx).roundTrip(nil, nil); err != nil {
								return err
							}
						}
						return nil
					}); err != nil {
						b.Fatal(err)
					}
				}
			})
			// CursorNext: a walk over the whole bucket.
			b.Run("CursorNext", func(b *testing.B) {
				for i := 0; i < b.N; {
					e.View(func(tx kvTx) error {
						c := tx.Bucket([]byte("b")).Cursor()
						for k, _ := c.First(); k != nil && i < b.N; k, _ = c.Next() {
							i++
						}
						return nil
					})
				}
			})
			// SmallUpdate: one Get and one Put, committed.
			b.Run("SmallUpdate", func(b *testing.B) {
				for i := range b.N {
					if err := e.Update(func(tx kvTx) error {
						bk := tx.Bucket([]byte("b"))
						bk.Get(benchKey(i % keys))
						return bk.Put(benchKey(i%keys), make([]byte, 100))
					}); err != nil {
						b.Fatal(err)
					}
				}
			})
			// SmallView: one Get.
			b.Run("SmallView", func(b *testing.B) {
				for i := range b.N {
					e.View(func(tx kvTx) error {
						tx.Bucket([]byte("b")).Get(benchKey(i % keys))
						return nil
					})
				}
			})
		})
	}
}
