// Package spool keeps an agent's reports on disk until the collector has
// acknowledged them, so a laptop that is offline, or a collector that is down,
// loses nothing. It also hands out the per-device sequence numbers, in the
// same transaction that stores each report.
package spool

import (
	"encoding/binary"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"

	"github.com/farmwatch/farmwatch/agent/sanitize"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

var (
	bucketPending = []byte("pending") // seq -> Report
	bucketMeta    = []byte("meta")
	keyNextSeq    = []byte("next_seq")
	keyDropped    = []byte("dropped")
	keyRestarts   = []byte("restarts")
	keyPending    = []byte("pending") // count of keys in bucketPending, kept in step
)

// Spool is the on-disk queue of unacknowledged reports.
type Spool struct {
	db  *bolt.DB
	max int
}

// Open opens the spool file; maxReports caps how many reports wait (the
// oldest are dropped first, and counted).
func Open(path string, maxReports int) (*Spool, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("open spool %s: %w", path, err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketPending, bucketMeta} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		db.Close()
		return nil, fmt.Errorf("initialise spool %s: %w", path, err)
	}
	if maxReports <= 0 {
		maxReports = 10000
	}
	return &Spool{db: db, max: maxReports}, nil
}

// Close closes the file.
func (s *Spool) Close() error { return s.db.Close() }

func getU64(b *bolt.Bucket, k []byte) uint64 {
	if v := b.Get(k); len(v) == 8 {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

func putU64(b *bolt.Bucket, k []byte, v uint64) error {
	return b.Put(k, binary.BigEndian.AppendUint64(nil, v))
}

// Add gives the report its sequence number and stores it. When the spool is
// full the oldest reports are dropped. The report is sanitized first, as the
// last defence: whatever string reached it, it marshals.
func (s *Spool) Add(r *pb.Report) error {
	sanitize.Report(r)
	return s.db.Update(func(tx *bolt.Tx) error {
		meta, pending := tx.Bucket(bucketMeta), tx.Bucket(bucketPending)
		seq := getU64(meta, keyNextSeq)
		if seq == 0 {
			seq = 1
		}
		r.Seq = seq
		r.Health = ensureHealth(r.Health)
		r.Health.Dropped = getU64(meta, keyDropped)
		count := getU64(meta, keyPending)
		r.Health.Spooled = count
		v, err := proto.Marshal(r)
		if err != nil {
			return fmt.Errorf("marshal report %d: %w", seq, err)
		}
		if err := pending.Put(binary.BigEndian.AppendUint64(nil, seq), v); err != nil {
			return err
		}
		if err := putU64(meta, keyNextSeq, seq+1); err != nil {
			return err
		}
		return s.trim(meta, pending, count+1)
	})
}

func (s *Spool) trim(meta, pending *bolt.Bucket, n uint64) error {
	if n <= uint64(s.max) {
		return putU64(meta, keyPending, n)
	}
	dropped := getU64(meta, keyDropped)
	c := pending.Cursor()
	for k, _ := c.First(); k != nil && n > uint64(s.max); k, _ = c.First() {
		if err := c.Delete(); err != nil {
			return err
		}
		n--
		dropped++
	}
	if err := putU64(meta, keyPending, n); err != nil {
		return err
	}
	return putU64(meta, keyDropped, dropped)
}

// remove deletes one pending report, keeping the count in step.
func remove(tx *bolt.Tx, seq uint64) (bool, error) {
	b, meta := tx.Bucket(bucketPending), tx.Bucket(bucketMeta)
	k := binary.BigEndian.AppendUint64(nil, seq)
	if b.Get(k) == nil {
		return false, nil
	}
	if err := b.Delete(k); err != nil {
		return false, err
	}
	if n := getU64(meta, keyPending); n > 0 {
		return true, putU64(meta, keyPending, n-1)
	}
	return true, nil
}

func ensureHealth(h *pb.AgentHealth) *pb.AgentHealth {
	if h == nil {
		return &pb.AgentHealth{}
	}
	return h
}

// Pending returns up to limit waiting reports, oldest first.
func (s *Spool) Pending(limit int) ([]*pb.Report, error) {
	var out []*pb.Report
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketPending).Cursor()
		for k, v := c.First(); k != nil && len(out) < limit; k, v = c.Next() {
			r := &pb.Report{}
			if err := proto.Unmarshal(v, r); err != nil {
				return fmt.Errorf("spooled report %d: %w", binary.BigEndian.Uint64(k), err)
			}
			out = append(out, r)
		}
		return nil
	})
	return out, err
}

// Ack removes reports the collector has committed.
func (s *Spool) Ack(seqs []uint64) error {
	if len(seqs) == 0 {
		return nil
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		for _, q := range seqs {
			if _, err := remove(tx, q); err != nil {
				return err
			}
		}
		return nil
	})
}

// Drop removes a report the collector refused as invalid, counting it as
// dropped so the next report tells the collector.
func (s *Spool) Drop(seq uint64) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if ok, err := remove(tx, seq); err != nil || !ok {
			return err
		}
		return putU64(meta, keyDropped, getU64(meta, keyDropped)+1)
	})
}

// Stats are the spool's counters.
type Stats struct {
	Pending  int
	Dropped  uint64
	NextSeq  uint64
	Restarts uint64
}

// Stats reads the counters.
func (s *Spool) Stats() (Stats, error) {
	var st Stats
	err := s.db.View(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		st = Stats{Pending: int(getU64(meta, keyPending)), Dropped: getU64(meta, keyDropped),
			NextSeq: getU64(meta, keyNextSeq), Restarts: getU64(meta, keyRestarts)}
		return nil
	})
	return st, err
}

// CountStart records an agent start and returns how many came before.
func (s *Spool) CountStart() (uint64, error) {
	var n uint64
	err := s.db.Update(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		n = getU64(meta, keyRestarts)
		return putU64(meta, keyRestarts, n+1)
	})
	return n, err
}
