package store

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// The alert outputs' state (collector/sinks): how far each output has
// delivered the alert event log, and the events it gave up on.
var (
	// bucketSinkCursors maps an output's name -> the last event id it
	// delivered (or skipped by its filters), 8 bytes big endian.
	bucketSinkCursors = []byte("alert_sink_cursors")
	// bucketSinkDead maps an output's name + 0 + event id (8 bytes big
	// endian) -> DeadLetter: the events an output gave up on after its
	// retry limit, until they are retried or deleted.
	bucketSinkDead = []byte("alert_sink_dead")
	// bucketSinkLeases maps an output's name -> its lease (8 bytes big
	// endian expiry in Unix nanoseconds, then the holder's name): on a store
	// shared by several collectors the one holding an output's unexpired
	// lease is the one that delivers it.
	bucketSinkLeases = []byte("alert_sink_leases")
)

// Both buckets are created when the store opens, like every other: an older
// store gains them empty, which reads as "no output has delivered anything",
// so no migration step is needed.
func init() {
	allBuckets = append(allBuckets, bucketSinkCursors, bucketSinkDead, bucketSinkLeases)
}

// SinkLease returns who holds the output's delivery lease and until when;
// holder is "" when nobody ever took it or it was given up.
func (tx *Tx) SinkLease(name string) (holder string, expires time.Time) {
	v := kvGet(tx.tx.Bucket(bucketSinkLeases), []byte(name))
	if len(v) < 8 {
		return "", time.Time{}
	}
	return string(v[8:]), time.Unix(0, int64(binary.BigEndian.Uint64(v[:8])))
}

// SetSinkLease records holder as the output's deliverer until expires.
func (tx *Tx) SetSinkLease(name, holder string, expires time.Time) error {
	v := binary.BigEndian.AppendUint64(nil, uint64(expires.UnixNano()))
	return kvPut(tx.tx.Bucket(bucketSinkLeases), []byte(name), append(v, holder...))
}

// DeleteSinkLease gives the output's lease up.
func (tx *Tx) DeleteSinkLease(name string) error {
	return tx.tx.Bucket(bucketSinkLeases).Delete([]byte(name))
}

// SinkCursor returns the last event id the output delivered; ok is false
// when the output has none yet (a new output).
func (tx *Tx) SinkCursor(name string) (id uint64, ok bool) {
	v := kvGet(tx.tx.Bucket(bucketSinkCursors), []byte(name))
	if len(v) != 8 {
		return 0, false
	}
	return binary.BigEndian.Uint64(v), true
}

// SetSinkCursor records the last event id the output delivered.
func (tx *Tx) SetSinkCursor(name string, id uint64) error {
	return kvPut(tx.tx.Bucket(bucketSinkCursors), []byte(name), u64(id))
}

func deadKey(sink string, eventID uint64) []byte { return sinkKey(sink, 0, eventID) }

// requeueKey marks a dead letter a reviewer asked to retry: name + 1 +
// event id -> nothing, in the dead letters' bucket, so a retry asked for
// survives a restart until the output has delivered the event again.
func requeueKey(sink string, eventID uint64) []byte { return sinkKey(sink, 1, eventID) }

func sinkKey(sink string, sep byte, eventID uint64) []byte {
	k := make([]byte, 0, len(sink)+9)
	k = append(k, sink...)
	k = append(k, sep)
	return binary.BigEndian.AppendUint64(k, eventID)
}

// PutDeadLetter stores an event the output gave up on (again: a requeued
// one that failed anew is no longer requeued).
func (tx *Tx) PutDeadLetter(d *pb.DeadLetter) error {
	if d.GetSink() == "" {
		return fmt.Errorf("dead letter for event %d: no output name", d.GetEventId())
	}
	b := tx.tx.Bucket(bucketSinkDead)
	if err := b.Delete(requeueKey(d.GetSink(), d.GetEventId())); err != nil {
		return err
	}
	return putProto(b, deadKey(d.GetSink(), d.GetEventId()), d)
}

// DeadLetters lists the output's dead letters in event id order; an empty
// name lists every output's, by output name then event id.
func (tx *Tx) DeadLetters(sink string) ([]*pb.DeadLetter, error) {
	var prefix []byte
	if sink != "" {
		prefix = append([]byte(sink), 0)
	}
	var out []*pb.DeadLetter
	c := tx.tx.Bucket(bucketSinkDead).Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		if len(k) < 9 || k[len(k)-9] != 0 {
			continue // a requeue mark
		}
		d := &pb.DeadLetter{}
		if err := proto.Unmarshal(v, d); err != nil {
			return nil, fmt.Errorf("dead letter %q: %w", k, err)
		}
		out = append(out, d)
	}
	return out, nil
}

// DeadLetter returns one dead letter.
func (tx *Tx) DeadLetter(sink string, eventID uint64) (*pb.DeadLetter, error) {
	d := &pb.DeadLetter{}
	if err := getProto(tx.tx.Bucket(bucketSinkDead), deadKey(sink, eventID), d); err != nil {
		return nil, fmt.Errorf("dead letter of %s for event %d: %w", sink, eventID, err)
	}
	return d, nil
}

// DeleteDeadLetter removes one dead letter and its requeue mark;
// ErrNotFound when there is none.
func (tx *Tx) DeleteDeadLetter(sink string, eventID uint64) error {
	b := tx.tx.Bucket(bucketSinkDead)
	k := deadKey(sink, eventID)
	if kvGet(b, k) == nil {
		return fmt.Errorf("dead letter of %s for event %d: %w", sink, eventID, ErrNotFound)
	}
	if err := b.Delete(requeueKey(sink, eventID)); err != nil {
		return err
	}
	return b.Delete(k)
}

// RequeueDeadLetters marks the named dead letters of the output (all of
// them when ids is empty) to be delivered again; they stay listed until
// the output delivers them (then they are deleted) or gives up again. An
// id with no dead letter is ErrNotFound and nothing is marked. It returns
// how many it marked.
func (tx *Tx) RequeueDeadLetters(sink string, ids []uint64) (int, error) {
	if sink == "" {
		return 0, fmt.Errorf("requeue dead letters: no output name")
	}
	if len(ids) == 0 {
		all, err := tx.DeadLetters(sink)
		if err != nil {
			return 0, err
		}
		for _, d := range all {
			ids = append(ids, d.GetEventId())
		}
	}
	b := tx.tx.Bucket(bucketSinkDead)
	seen := map[uint64]bool{}
	for _, id := range ids {
		if kvGet(b, deadKey(sink, id)) == nil {
			return 0, fmt.Errorf("dead letter of %s for event %d: %w", sink, id, ErrNotFound)
		}
		seen[id] = true
	}
	for id := range seen {
		if err := kvPut(b, requeueKey(sink, id), []byte{}); err != nil {
			return 0, err
		}
	}
	return len(seen), nil
}

// RequeuedDeadLetters lists the event ids of the output's dead letters
// marked for another delivery, in order.
func (tx *Tx) RequeuedDeadLetters(sink string) []uint64 {
	prefix := append([]byte(sink), 1)
	var ids []uint64
	c := tx.tx.Bucket(bucketSinkDead).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		if len(k) == len(prefix)+8 {
			ids = append(ids, binary.BigEndian.Uint64(k[len(prefix):]))
		}
	}
	return ids
}
