// Package spool keeps an agent's reports on disk until the collector has
// acknowledged them, so a laptop that is offline, or a collector that is down,
// loses nothing. It also hands out the per-device sequence numbers, in the
// same transaction that stores each report, within a spool epoch: a random
// number drawn when the spool is created, so that a spool that is lost and
// created again starts a new sequence instead of repeating the old one.
package spool

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"

	"github.com/farmwatch/farmwatch/agent/sanitize"
	"github.com/farmwatch/farmwatch/internal/agentlimits"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

var (
	bucketPending = []byte("pending") // seq -> Report
	bucketMeta    = []byte("meta")
	keyNextSeq    = []byte("next_seq")
	keyDropped    = []byte("dropped")
	keyRestarts   = []byte("restarts")
	keyPending    = []byte("pending") // count of keys in bucketPending, kept in step
	keyEpoch      = []byte("epoch")   // the spool epoch: random, never 0
	keyDevice     = []byte("device")  // the device id the sequence belongs to
)

// Spool is the on-disk queue of unacknowledged reports.
type Spool struct {
	db     *bolt.DB
	max    int
	origin EpochOrigin
}

// EpochOrigin says what Open found of the spool's epoch.
type EpochOrigin int

const (
	// EpochKept: the spool had its epoch already.
	EpochKept EpochOrigin = iota
	// EpochNew: the spool was new (or had never held a report), so a new
	// sequence starts at 1 under a new epoch.
	EpochNew
	// EpochAdopted: the spool of an older agent, which had reports but no
	// epoch. Its sequence goes on under the new epoch; the reports already
	// waiting in it are sent as they were spooled, without one, because a
	// report the collector stored before the upgrade must come back
	// unchanged to be recognised as a duplicate.
	EpochAdopted
)

// Open opens the spool file, creating it and its epoch if needed;
// maxReports caps how many reports wait (the oldest are dropped first, and
// counted), 0 meaning agentlimits.SpoolReports.
func Open(path string, maxReports int) (*Spool, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("open spool %s: %w", path, err)
	}
	origin := EpochKept
	if err := db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketPending, bucketMeta} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		meta := tx.Bucket(bucketMeta)
		if getU64(meta, keyEpoch) != 0 {
			return nil
		}
		origin = EpochNew
		if getU64(meta, keyNextSeq) != 0 {
			origin = EpochAdopted
		}
		epoch, err := newEpoch()
		if err != nil {
			return err
		}
		return putU64(meta, keyEpoch, epoch)
	}); err != nil {
		db.Close()
		return nil, fmt.Errorf("initialise spool %s: %w", path, err)
	}
	if maxReports <= 0 {
		maxReports = agentlimits.SpoolReports
	}
	return &Spool{db: db, max: maxReports, origin: origin}, nil
}

// newEpoch draws a spool epoch: 64 random bits, never 0 (the epoch of
// reports from agents that predate epochs).
func newEpoch() (uint64, error) {
	var b [8]byte
	for {
		if _, err := rand.Read(b[:]); err != nil {
			return 0, fmt.Errorf("draw a spool epoch: %w", err)
		}
		if e := binary.BigEndian.Uint64(b[:]); e != 0 {
			return e, nil
		}
	}
}

// Origin says what Open found of the spool's epoch.
func (s *Spool) Origin() EpochOrigin { return s.origin }

// BindDevice ties the spool's sequence to the device it reports for and
// reports whether the spool had served another device. Such a spool (the
// laptop enrolled again and kept its state directory) starts a new epoch
// and its waiting reports are renumbered from 1 under it: the new device
// has never sent them, and a sequence carried over from another device
// would look to the collector like a jump.
func (s *Spool) BindDevice(deviceID string) (bool, error) {
	renumbered := false
	err := s.db.Update(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		was := string(meta.Get(keyDevice))
		if was == deviceID {
			return nil
		}
		if err := meta.Put(keyDevice, []byte(deviceID)); err != nil {
			return err
		}
		if was == "" {
			return nil // a new spool, or one from an agent that did not record its device
		}
		renumbered = true
		return renumber(tx)
	})
	if err != nil {
		return false, fmt.Errorf("bind spool to device %s: %w", deviceID, err)
	}
	return renumbered, nil
}

// renumber gives the spool a new epoch and its waiting reports the seqs
// 1, 2, ... under it, oldest first.
func renumber(tx *bolt.Tx) error {
	meta := tx.Bucket(bucketMeta)
	epoch, err := newEpoch()
	if err != nil {
		return err
	}
	var reports [][]byte
	if err := tx.Bucket(bucketPending).ForEach(func(k, v []byte) error {
		r := &pb.Report{}
		if err := proto.Unmarshal(v, r); err != nil {
			return fmt.Errorf("spooled report %d: %w", binary.BigEndian.Uint64(k), err)
		}
		r.Seq, r.SpoolEpoch = uint64(len(reports)+1), epoch
		b, err := proto.Marshal(r)
		if err != nil {
			return fmt.Errorf("spooled report %d: %w", binary.BigEndian.Uint64(k), err)
		}
		reports = append(reports, b)
		return nil
	}); err != nil {
		return err
	}
	if err := tx.DeleteBucket(bucketPending); err != nil {
		return err
	}
	pending, err := tx.CreateBucket(bucketPending)
	if err != nil {
		return err
	}
	for i, b := range reports {
		if err := pending.Put(binary.BigEndian.AppendUint64(nil, uint64(i+1)), b); err != nil {
			return err
		}
	}
	if err := putU64(meta, keyEpoch, epoch); err != nil {
		return err
	}
	if err := putU64(meta, keyPending, uint64(len(reports))); err != nil {
		return err
	}
	return putU64(meta, keyNextSeq, uint64(len(reports)+1))
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

// Add gives the report its sequence number and the spool's epoch and
// stores it. When the spool is full the oldest reports are dropped. The
// report is sanitized first, as the last defence: whatever string reached
// it, it marshals.
func (s *Spool) Add(r *pb.Report) error {
	sanitize.Report(r)
	return s.db.Update(func(tx *bolt.Tx) error {
		meta, pending := tx.Bucket(bucketMeta), tx.Bucket(bucketPending)
		seq := getU64(meta, keyNextSeq)
		if seq == 0 {
			seq = 1
		}
		r.Seq, r.SpoolEpoch = seq, getU64(meta, keyEpoch)
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
	Epoch    uint64
}

// Stats reads the counters.
func (s *Spool) Stats() (Stats, error) {
	var st Stats
	err := s.db.View(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		st = Stats{Pending: int(getU64(meta, keyPending)), Dropped: getU64(meta, keyDropped),
			NextSeq: getU64(meta, keyNextSeq), Restarts: getU64(meta, keyRestarts), Epoch: getU64(meta, keyEpoch)}
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
