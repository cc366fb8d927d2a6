package store

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// Get reads a key of an analysis bucket (nil when absent); the value is a
// copy, safe after the transaction.
func (tx *Tx) Get(bucket, key []byte) []byte {
	v := tx.tx.Bucket(bucket).Get(key)
	if v == nil {
		return nil
	}
	return bytes.Clone(v)
}

// GetView is Get without the copy: the value is valid only until the
// transaction ends, and must not be changed.
func (tx *Tx) GetView(bucket, key []byte) []byte { return tx.tx.Bucket(bucket).Get(key) }

// Put writes a key of an analysis bucket.
func (tx *Tx) Put(bucket, key, value []byte) error { return tx.tx.Bucket(bucket).Put(key, value) }

// Delete removes a key of an analysis bucket.
func (tx *Tx) Delete(bucket, key []byte) error { return tx.tx.Bucket(bucket).Delete(key) }

// Scan calls fn for every key of bucket that starts with prefix, in order,
// until fn returns false.
func (tx *Tx) Scan(bucket, prefix []byte, fn func(k, v []byte) bool) {
	c := tx.tx.Bucket(bucket).Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		if !fn(k, v) {
			return
		}
	}
}

// ScanFrom calls fn for each key of bucket from `from` on, in order, until
// fn returns false.
func (tx *Tx) ScanFrom(bucket, from []byte, fn func(k, v []byte) bool) {
	c := tx.tx.Bucket(bucket).Cursor()
	for k, v := c.Seek(from); k != nil; k, v = c.Next() {
		if !fn(k, v) {
			return
		}
	}
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
	var out []*pb.AuditEntry
	c := tx.tx.Bucket(bucketAudit).Cursor()
	for k, v := c.Last(); k != nil && len(out) < limit; k, v = c.Prev() {
		e := &pb.AuditEntry{}
		if err := proto.Unmarshal(v, e); err != nil {
			return nil, err
		}
		if subject == "" || e.GetSubject() == subject {
			out = append(out, e)
		}
	}
	return out, nil
}
