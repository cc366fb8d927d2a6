package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"time"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// The reports bucket is keyed by the collector's receive time (big-endian
// nanoseconds) and a counter the writer increments per stored report, so
// its key order is the order reports arrived in. A long read transaction
// over it would hold on to every page it saw while ingest goes on, and bbolt
// cannot reuse those pages nor remap a growing file until it ends: reports
// are read in chunks, each in a transaction of its own that ends before the
// chunk is handed over.

// DefaultScanChunk is how many reports one read transaction of ScanReports
// takes when the caller names no chunk size.
const DefaultScanChunk = 512

func timeKey(t time.Time) []byte { return u64(uint64(t.UnixNano())) }

func keyTime(k []byte) time.Time { return time.Unix(0, int64(binary.BigEndian.Uint64(k[:8]))).UTC() }

// ReportSpan returns the receive times of the first and the last stored
// report received in [since, until) (a zero time leaves that end open); ok
// is false when there is none.
func (s *Store) ReportSpan(since, until time.Time) (first, last time.Time, ok bool, err error) {
	err = s.kv.View(func(btx kvTx) error {
		first, last, ok = time.Time{}, time.Time{}, false // per attempt
		c := btx.Bucket(bucketReports).Cursor()
		var k []byte
		if since.IsZero() {
			k, _ = c.First()
		} else {
			k, _ = c.Seek(timeKey(since))
		}
		if k == nil || len(k) < 8 || (!until.IsZero() && !keyTime(k).Before(until)) {
			return nil
		}
		first = keyTime(k)
		if until.IsZero() {
			k, _ = c.Last()
		} else if k, _ = c.Seek(timeKey(until)); k == nil {
			k, _ = c.Last()
		} else {
			k, _ = c.Prev()
		}
		last, ok = keyTime(k), true
		return nil
	})
	return first, last, ok, err
}

// ScanReports hands fn the stored reports received in [since, until) (a
// zero time leaves that end open) in the order they arrived, at most chunk
// at a time. Each chunk is read in a short read transaction of its own and
// decoded after it ended; the next one resumes after the last key read, so
// ingest and retention go on meanwhile (a report pruned before its chunk is
// read is not seen). fn's error, or the context's, stops the scan.
func (s *Store) ScanReports(ctx context.Context, since, until time.Time, chunk int, fn func([]*pb.StoredReport) error) error {
	if chunk <= 0 {
		chunk = DefaultScanChunk
	}
	var end []byte
	if !until.IsZero() {
		end = timeKey(until)
	}
	type raw struct{ k, v []byte }
	var after []byte // the last key read; nil before the first chunk
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		rows := make([]raw, 0, chunk)
		err := s.kv.View(func(btx kvTx) error {
			rows = rows[:0] // per attempt
			c := btx.Bucket(bucketReports).Cursor()
			var k, v []byte
			switch {
			case after != nil:
				if k, v = c.Seek(after); k != nil && bytes.Equal(k, after) {
					k, v = c.Next()
				}
			case since.IsZero():
				k, v = c.First()
			default:
				k, v = c.Seek(timeKey(since))
			}
			for ; k != nil && len(rows) < chunk; k, v = c.Next() {
				if end != nil && bytes.Compare(k, end) >= 0 {
					break
				}
				// Values live in the memory map only while the
				// transaction is open.
				rows = append(rows, raw{bytes.Clone(k), bytes.Clone(v)})
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("read reports: %w", err)
		}
		if len(rows) == 0 {
			return nil
		}
		batch := make([]*pb.StoredReport, 0, len(rows))
		for _, r := range rows {
			sr, err := s.codec.decode(r.v)
			if err != nil {
				return fmt.Errorf("report %x (received %s): %w", r.k, keyTime(r.k).Format(time.RFC3339Nano), err)
			}
			batch = append(batch, sr)
		}
		after = rows[len(rows)-1].k
		if err := fn(batch); err != nil {
			return err
		}
		if len(rows) < chunk {
			return nil
		}
	}
}
