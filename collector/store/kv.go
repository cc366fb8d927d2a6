package store

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// Get reads a key of an analysis bucket (nil when absent); the value is a
// copy, safe after the transaction.
func (tx *Tx) Get(bucket, key []byte) []byte {
	v := kvGet(tx.tx.Bucket(bucket), key)
	if v == nil {
		return nil
	}
	return bytes.Clone(v)
}

// GetView is Get without the copy: the value is valid only until the
// transaction ends, and must not be changed.
func (tx *Tx) GetView(bucket, key []byte) []byte { return kvGet(tx.tx.Bucket(bucket), key) }

// Put writes a key of an analysis bucket.
func (tx *Tx) Put(bucket, key, value []byte) error { return kvPut(tx.tx.Bucket(bucket), key, value) }

// Delete removes a key of an analysis bucket.
func (tx *Tx) Delete(bucket, key []byte) error { return tx.tx.Bucket(bucket).Delete(key) }

// Scan calls fn for every key of bucket that starts with prefix, in order,
// until fn returns false.
func (tx *Tx) Scan(bucket, prefix []byte, fn func(k, v []byte) bool) {
	walkFrom(tx.tx.Bucket(bucket), prefix, func(k, v []byte) bool {
		return bytes.HasPrefix(k, prefix) && fn(k, v)
	})
}

// ScanSized is Scan for a prefix under which about rows keys are expected
// (a cluster's links, from its members): a backend that fetches keys in
// pages reads them in one.
func (tx *Tx) ScanSized(bucket, prefix []byte, rows int, fn func(k, v []byte) bool) {
	pc, ok := tx.tx.Bucket(bucket).(kvPrefixCursorer)
	if !ok {
		tx.Scan(bucket, prefix, fn)
		return
	}
	// One row more: the first key past the prefix ends the scan without
	// another page.
	c := pc.PrefixCursor(prefix, rows+1)
	for k, v := c.Seek(bytes.Clone(prefix)); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		if !fn(k, v) {
			return
		}
	}
}

// ScanFrom calls fn for each key of bucket from `from` on, in order, until
// fn returns false.
func (tx *Tx) ScanFrom(bucket, from []byte, fn func(k, v []byte) bool) {
	walkFrom(tx.tx.Bucket(bucket), from, fn)
}

// NextID hands out ids of a bucket in creation order: PREFIX-000001.
func (tx *Tx) NextID(bucket []byte, prefix string) (string, error) {
	n, err := tx.tx.Bucket(bucket).NextSequence()
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%s-%06d", prefix, n), nil
}

// Audit appends an entry to the audit trail.
func (tx *Tx) Audit(at time.Time, actor, action, subject, detail string) error {
	b := tx.tx.Bucket(bucketAudit)
	n, err := b.NextSequence()
	if err != nil {
		return err
	}
	key := binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, uint64(at.UnixNano())), n)
	return putProto(b, key, &pb.AuditEntry{At: timestamppb.New(at), Actor: actor, Action: action, Subject: subject, Detail: detail})
}

// AuditEntries lists the trail newest first, optionally for one subject.
func (tx *Tx) AuditEntries(subject string, limit int) ([]*pb.AuditEntry, error) {
	return tx.AuditPage(AuditQuery{Subject: subject, Limit: limit})
}

// AuditQuery selects a page of the audit trail.
type AuditQuery struct {
	Subject string    // empty for all
	Limit   int       // at most this many entries
	Since   time.Time // zero for all
	// After is a cursor (AuditEntry.cursor): only entries after it in the
	// order asked for.
	After       string
	OldestFirst bool
}

// AuditPage lists entries of the trail in key order (time, then a sequence:
// stable, so an export resumes exactly after its last cursor).
func (tx *Tx) AuditPage(q AuditQuery) ([]*pb.AuditEntry, error) {
	var after []byte
	if q.After != "" {
		var err error
		if after, err = hex.DecodeString(q.After); err != nil || len(after) != 16 {
			return nil, fmt.Errorf("audit cursor %q: %w", q.After, ErrBadCursor)
		}
	}
	var sinceKey []byte
	switch {
	case q.Since.IsZero():
	case q.Since.After(time.Unix(0, math.MaxInt64)): // past what UnixNano holds
		sinceKey = binary.BigEndian.AppendUint64(nil, math.MaxUint64)
	default:
		sinceKey = binary.BigEndian.AppendUint64(nil, uint64(max(q.Since.UnixNano(), 0)))
	}
	var out []*pb.AuditEntry
	c := tx.tx.Bucket(bucketAudit).Cursor()
	var k, v []byte
	next := c.Prev
	if q.OldestFirst {
		next = c.Next
		switch {
		case after != nil && bytes.Compare(after, sinceKey) >= 0:
			if k, v = c.Seek(after); k != nil && bytes.Equal(k, after) {
				k, v = c.Next()
			}
		default:
			k, v = c.Seek(sinceKey)
		}
	} else {
		k, v = c.Last()
		if after != nil {
			if k, v = c.Seek(after); k == nil {
				k, v = c.Last()
			} else {
				k, v = c.Prev()
			}
			for k != nil && bytes.Compare(k, after) >= 0 {
				k, v = c.Prev()
			}
		}
	}
	for ; k != nil && len(out) < q.Limit; k, v = next() {
		if sinceKey != nil && bytes.Compare(k, sinceKey) < 0 {
			if q.OldestFirst {
				continue
			}
			break // newest first: everything further is older
		}
		e := &pb.AuditEntry{}
		if err := proto.Unmarshal(v, e); err != nil {
			return nil, err
		}
		if q.Subject == "" || e.GetSubject() == q.Subject {
			e.Cursor = hex.EncodeToString(k)
			out = append(out, e)
		}
	}
	return out, nil
}

// ErrBadCursor is returned for a cursor this store did not hand out.
var ErrBadCursor = errors.New("not a cursor of this audit trail")
