package store

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"time"

	"google.golang.org/protobuf/proto"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// Tx is a store transaction, read-only or writable.
type Tx struct {
	tx kvTx
	s  *Store
	// held is the device an ingest job is writing: its state and spool
	// ledger are kept here until the job stores the device, so that a report
	// reads and writes the device record once, not once for each part.
	held *heldDevice
	// hires read shared in this transaction: a batch reads the same hires
	// for many reports (a farm member's evidence names 25 other members).
	hires map[string]*pb.Hire
	// actor names the admin behind this transaction's alert events
	// (SetActor); events are those written so far (events.go).
	actor  string
	events []*pb.AlertEvent
	// applicantsBumped: this transaction moved the applicants' version
	// (ApplicantsVersion) already.
	applicantsBumped bool
}

type heldDevice struct {
	id     string
	state  []byte
	spools []byte
}

// View runs fn in a read-only transaction.
func (s *Store) View(fn func(*Tx) error) error {
	return s.kv.View(func(btx kvTx) error { return fn(&Tx{tx: btx, s: s}) })
}

// Update runs fn in a writable transaction (outside the ingest writer). A
// backend that retries conflicting commits (kvEngine.Update) may run fn more
// than once: fn must keep nothing of an attempt outside the transaction
// except through what it sets afresh on each run.
func (s *Store) Update(fn func(*Tx) error) error {
	return s.kv.Update(func(btx kvTx) error { return fn(&Tx{tx: btx, s: s}) })
}

func getProto[T proto.Message](b kvBucket, key []byte, m T) error {
	v := kvGet(b, key)
	if v == nil {
		return ErrNotFound
	}
	return proto.Unmarshal(v, m)
}

func putProto(b kvBucket, key []byte, m proto.Message) error {
	v, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		return err
	}
	return kvPut(b, key, v)
}

// Hire returns one hire.
func (tx *Tx) Hire(id string) (*pb.Hire, error) {
	h := &pb.Hire{}
	if err := getProto(tx.tx.Bucket(bucketHires), []byte(id), h); err != nil {
		return nil, fmt.Errorf("hire %q: %w", id, err)
	}
	return h, nil
}

// PutHire stores a hire.
func (tx *Tx) PutHire(h *pb.Hire) error {
	delete(tx.hires, h.GetId())
	return putProto(tx.tx.Bucket(bucketHires), []byte(h.GetId()), h)
}

// HireExists tells whether a hire id is taken.
func (tx *Tx) HireExists(id string) bool {
	return kvGet(tx.tx.Bucket(bucketHires), []byte(id)) != nil
}

// Hires lists every hire in id order.
func (tx *Tx) Hires() ([]*pb.Hire, error) {
	var out []*pb.Hire
	err := tx.tx.Bucket(bucketHires).ForEach(func(_, v []byte) error {
		h := &pb.Hire{}
		if err := proto.Unmarshal(v, h); err != nil {
			return err
		}
		out = append(out, h)
		return nil
	})
	return out, err
}

// HireShared returns a hire for reading only: the record is shared with other
// callers and must not be changed (Hire returns a copy to change).
func (tx *Tx) HireShared(id string) (*pb.Hire, error) {
	if h, ok := tx.hires[id]; ok {
		return h, nil
	}
	h, err := sharedRecord(tx.tx.Bucket(bucketHires), tx.s.hires, "hire", id)
	if err != nil {
		return nil, err
	}
	if tx.hires == nil {
		tx.hires = make(map[string]*pb.Hire, 64)
	}
	tx.hires[id] = h
	return h, nil
}

// Device returns one device.
func (tx *Tx) Device(id string) (*pb.Device, error) {
	v := kvGet(tx.tx.Bucket(bucketDevices), []byte(id))
	if v == nil {
		return nil, fmt.Errorf("device %q: %w", id, ErrNotFound)
	}
	d, _, err := decodeDevice(id, v)
	return d, err
}

// decodeDevice reads a device record: the device, and views of the
// record's parts.
func decodeDevice(id string, v []byte) (*pb.Device, deviceRecord, error) {
	rec, err := splitDeviceRecord(v)
	if err != nil {
		return nil, rec, fmt.Errorf("device %q: %w", id, err)
	}
	d := &pb.Device{}
	if err := proto.Unmarshal(rec.device, d); err != nil {
		return nil, rec, fmt.Errorf("device %q: %w", id, err)
	}
	return d, rec, nil
}

// PutDevice stores a device, keeping its analysis state and spool ledger.
func (tx *Tx) PutDevice(d *pb.Device) error {
	b := tx.tx.Bucket(bucketDevices)
	var rec deviceRecord
	existed := true
	if h := tx.held; h != nil && h.id == d.GetId() {
		rec.state, rec.spools = h.state, h.spools
	} else if old := kvGet(b, []byte(d.GetId())); old != nil {
		var err error
		if rec, err = splitDeviceRecord(old); err != nil {
			return fmt.Errorf("device %q: %w", d.GetId(), err)
		}
	} else {
		existed = false
	}
	v, err := proto.MarshalOptions{Deterministic: true}.Marshal(d)
	if err != nil {
		return err
	}
	rec.device = v
	if err := kvPut(b, []byte(d.GetId()), joinDeviceRecord(rec)); err != nil {
		return err
	}
	if existed {
		return nil // indexed by hire when it was first stored: a device's hire never changes
	}
	idx, key := tx.tx.Bucket(bucketDevByHire), devByHireKey(d.GetHireId(), d.GetId())
	if kvGet(idx, key) != nil {
		return nil // a device's hire never changes: written once
	}
	return kvPut(idx, key, nil)
}

// Devices lists devices, optionally of one hire.
func (tx *Tx) Devices(hireID string) ([]*pb.Device, error) {
	var out []*pb.Device
	if hireID != "" {
		for _, id := range tx.devicesOfHire(hireID) {
			d, err := tx.Device(id)
			if err != nil {
				return nil, err
			}
			out = append(out, d)
		}
		return out, nil
	}
	// The bucket holds each device's report index after its record: walk
	// the records alone.
	err := forEachRecord(tx.tx.Bucket(bucketDevices), func(k, v []byte) error {
		d, _, err := decodeDevice(string(k), v)
		if err != nil {
			return err
		}
		out = append(out, d)
		return nil
	})
	return out, err
}

// TokenRecord is what the collector keeps of an enrollment token: its hash,
// never the token.
type TokenRecord struct {
	HireID    string    `json:"hire_id"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
	UsedAt    time.Time `json:"used_at,omitzero"`
	DeviceID  string    `json:"device_id,omitempty"`
	RevokedAt time.Time `json:"revoked_at,omitzero"`
	RevokedBy string    `json:"revoked_by,omitempty"`
}

// TokenHash is the key a token is stored under.
func TokenHash(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// PutToken stores a token record under the token's hash.
func (tx *Tx) PutToken(token string, rec TokenRecord) error {
	v, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	return kvPut(tx.tx.Bucket(bucketTokens), TokenHash(token), v)
}

// Token returns the record of a token.
func (tx *Tx) Token(token string) (TokenRecord, error) {
	var rec TokenRecord
	v := kvGet(tx.tx.Bucket(bucketTokens), TokenHash(token))
	if v == nil {
		return rec, ErrNotFound
	}
	return rec, json.Unmarshal(v, &rec)
}

// DeviceState returns the analysis state blob of a device (nil if none).
func (tx *Tx) DeviceState(id string) []byte {
	return bytes.Clone(tx.DeviceStateView(id))
}

// DeviceStateView is DeviceState without the copy: the bytes are valid only
// until the transaction ends and must not be changed.
func (tx *Tx) DeviceStateView(id string) []byte {
	if h := tx.held; h != nil && h.id == id {
		return h.state
	}
	v := kvGet(tx.tx.Bucket(bucketDevices), []byte(id))
	if v == nil {
		return nil
	}
	rec, err := splitDeviceRecord(v)
	if err != nil {
		return nil // the device itself reads as an error
	}
	return rec.state
}

// PutDeviceState stores the analysis state blob of a device, in its device
// record: the report that changes the state changes the device too, so one
// record (one page) is written for both.
func (tx *Tx) PutDeviceState(id string, state []byte) error {
	if h := tx.held; h != nil && h.id == id {
		h.state = state // stored with the device at the end of its ingest job
		return nil
	}
	b := tx.tx.Bucket(bucketDevices)
	old := kvGet(b, []byte(id))
	if old == nil {
		return fmt.Errorf("device %q: %w", id, ErrNotFound)
	}
	rec, err := splitDeviceRecord(old)
	if err != nil {
		return fmt.Errorf("device %q: %w", id, err)
	}
	rec.state = state
	return kvPut(b, []byte(id), joinDeviceRecord(rec))
}

// Reports returns a device's stored reports, newest first, at most limit.
// The index is newest first within each spool generation; the reports of a
// device that has several (a reset spool, or two machines sharing its
// identity) are merged by the collector's receive time, as they arrived,
// over its maxReportGenerations newest generations.
func (tx *Tx) Reports(deviceID string, limit int) ([]*pb.StoredReport, error) {
	prefix := append([]byte(deviceID), 0)
	devs := tx.tx.Bucket(bucketDevices)
	reports := tx.tx.Bucket(bucketReports)
	// One cursor per generation, each at the generation's newest entry.
	type head struct {
		c    kvCursor
		k, v []byte
	}
	var heads []*head
	seek := prefix
	for len(heads) < maxReportGenerations {
		c := devs.Cursor()
		k, v := c.Seek(seek)
		if k == nil || !bytes.HasPrefix(k, prefix) || len(k) != len(prefix)+12 {
			break
		}
		heads = append(heads, &head{c: c, k: k, v: v})
		rest := binary.BigEndian.Uint32(k[len(prefix):])
		if rest == math.MaxUint32 {
			break // generation 0, the last
		}
		seek = binary.BigEndian.AppendUint32(bytes.Clone(prefix), rest+1)
	}
	var out []*pb.StoredReport
	for len(heads) > 0 && len(out) < limit {
		h := 0
		for i := range heads {
			if bytes.Compare(heads[i].v, heads[h].v) > 0 { // reports keys: receive time, then a counter
				h = i
			}
		}
		v := heads[h].v
		gen := heads[h].k[:len(prefix)+4]
		if k, nv := heads[h].c.Next(); k != nil && bytes.HasPrefix(k, gen) && len(k) == len(prefix)+12 {
			heads[h].k, heads[h].v = k, nv
		} else {
			heads = append(heads[:h], heads[h+1:]...)
		}
		raw := kvGet(reports, v)
		if raw == nil {
			continue // pruned by retention
		}
		sr, err := tx.s.codec.decode(raw)
		if err != nil {
			return nil, fmt.Errorf("report %x: %w", v, err)
		}
		out = append(out, sr)
	}
	return out, nil
}

// maxReportGenerations is how many of a device's spool generations Reports
// merges: far more than an honest agent has, and a bound on the seeks a
// device that makes up a spool per report can cost a reviewer's view.
const maxReportGenerations = 4 * maxSpoolEpochs

// ReportCount counts every stored report (for tests and tools).
func (tx *Tx) ReportCount() int {
	return tx.tx.Bucket(bucketReports).KeyN()
}

// HasReport tells whether seq is stored under the device's newest spool
// epoch.
func (tx *Tx) HasReport(deviceID string, seq uint64) bool {
	l, err := tx.spoolLedger(deviceID)
	if err != nil {
		return false
	}
	n := l.newest()
	return n != nil && kvGet(tx.tx.Bucket(bucketDevices), ReportIndexKey(deviceID, n.gen, seq)) != nil
}

// HasSpoolReport tells whether (device, spool epoch, seq) is stored.
func (tx *Tx) HasSpoolReport(deviceID string, epoch, seq uint64) bool {
	l, err := tx.spoolLedger(deviceID)
	if err != nil {
		return false
	}
	e := l.find(epoch)
	return e != nil && kvGet(tx.tx.Bucket(bucketDevices), ReportIndexKey(deviceID, e.gen, seq)) != nil
}

func (tx *Tx) spoolLedger(deviceID string) (*spoolLedger, error) {
	v := kvGet(tx.tx.Bucket(bucketDevices), []byte(deviceID))
	if v == nil {
		return nil, fmt.Errorf("device %q: %w", deviceID, ErrNotFound)
	}
	rec, err := splitDeviceRecord(v)
	if err != nil {
		return nil, fmt.Errorf("device %q: %w", deviceID, err)
	}
	return decodeSpoolLedger(rec.spools)
}

// PrefetchDevices and PrefetchHires read these records ahead of the
// Device, Hire and HireShared calls that will ask for them, in as few
// steps as the backend allows: a view that reads every member of every
// cluster costs a query per thousand records on PostgreSQL instead of a
// round trip per record. Results are the same without them.
func (tx *Tx) PrefetchDevices(ids []string) { tx.prefetch(bucketDevices, ids) }

// PrefetchHires: see PrefetchDevices.
func (tx *Tx) PrefetchHires(ids []string) { tx.prefetch(bucketHires, ids) }

func (tx *Tx) prefetch(bucket []byte, ids []string) {
	p, ok := tx.tx.(kvPrefetcher)
	if !ok || len(ids) == 0 {
		return
	}
	keys := make([][]byte, len(ids))
	for i, id := range ids {
		keys[i] = []byte(id)
	}
	p.Prefetch(bucket, keys)
}
