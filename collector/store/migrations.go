package store

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"log/slog"
	"maps"
	"slices"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// migration brings a store from schema To-1 to To, inside the opening
// transaction: either every step commits or none does.
type migration struct {
	To   uint64
	Name string
	Run  func(tx *bolt.Tx) error
}

// migrations, in order. Never edit a released one; add the next.
var migrations = []migration{
	{To: 2, Name: "index devices by hire", Run: indexDevicesByHire},
	{To: 3, Name: "keep the analysis state in the device record", Run: deviceStateIntoDevices},
	{To: 4, Name: "keep each device's report index after its record", Run: reportIndexIntoDevices},
	{To: 5, Name: "remember each device's evidence", Run: rememberEvidence},
}

// migrate stamps a new store with the current schema, runs the migrations
// an older one needs, and refuses a store written by a newer farmwatch.
func migrate(tx *bolt.Tx) error {
	meta := tx.Bucket(bucketMeta)
	v := meta.Get(keySchema)
	if v == nil {
		if tx.Bucket(bucketDevices).Stats().KeyN == 0 && tx.Bucket(bucketHires).Stats().KeyN == 0 {
			return meta.Put(keySchema, u64(SchemaVersion)) // a new, empty store
		}
		v = u64(1) // written before the schema key existed
	}
	cur := binary.BigEndian.Uint64(v)
	if cur > SchemaVersion {
		return fmt.Errorf("store schema %d is newer than this collector understands (%d): upgrade farmwatch", cur, SchemaVersion)
	}
	for _, m := range migrations {
		if m.To <= cur {
			continue
		}
		if m.To != cur+1 {
			return fmt.Errorf("no migration from schema %d to %d", cur, m.To)
		}
		if err := m.Run(tx); err != nil {
			return fmt.Errorf("migrate store to schema %d (%s): %w", m.To, m.Name, err)
		}
		slog.Info("store migrated", "schema", m.To, "step", m.Name)
		cur = m.To
		if err := meta.Put(keySchema, u64(cur)); err != nil {
			return err
		}
	}
	if cur != SchemaVersion {
		return fmt.Errorf("store schema %d, want %d: a migration is missing", cur, SchemaVersion)
	}
	return nil
}

func devByHireKey(hire, device string) []byte {
	return append(append([]byte(hire), 0), device...)
}

// indexDevicesByHire (schema 2) fills the hire -> devices index from the
// device records.
func indexDevicesByHire(tx *bolt.Tx) error {
	idx, err := tx.CreateBucketIfNotExists(bucketDevByHire)
	if err != nil {
		return err
	}
	return tx.Bucket(bucketDevices).ForEach(func(k, v []byte) error {
		d := &pb.Device{}
		if err := proto.Unmarshal(v, d); err != nil {
			return fmt.Errorf("device %s: %w", k, err)
		}
		return idx.Put(devByHireKey(d.GetHireId(), d.GetId()), nil)
	})
}

// deviceStateIntoDevices (schema 3) moves each device's analysis state from
// its own bucket into the device record, which every report rewrites anyway:
// a report then writes one record, and one page, where it wrote two.
func deviceStateIntoDevices(tx *bolt.Tx) error {
	states := tx.Bucket(bucketDeviceState)
	devs := tx.Bucket(bucketDevices)
	type record struct{ k, v []byte }
	var out []record // bbolt's buckets must not change under ForEach
	if err := devs.ForEach(func(k, v []byte) error {
		var state []byte
		if states != nil {
			state = states.Get(k)
		}
		out = append(out, record{bytes.Clone(k), joinDeviceRecord(v, state)})
		return nil
	}); err != nil {
		return err
	}
	for _, r := range out {
		if err := devs.Put(r.k, r.v); err != nil {
			return err
		}
	}
	if states == nil {
		return nil
	}
	return tx.DeleteBucket(bucketDeviceState)
}

// reportIndexIntoDevices (schema 4) moves the (device, seq) report index
// from its own bucket into the devices bucket, newest first after each
// device's record (ReportIndexKey), so that a report's index entry lands on
// the page its device record is rewritten on anyway.
func reportIndexIntoDevices(tx *bolt.Tx) error {
	old := tx.Bucket(bucketReportIndex)
	if old == nil {
		return nil
	}
	devs := tx.Bucket(bucketDevices)
	if err := old.ForEach(func(k, v []byte) error {
		if len(k) < 9 || k[len(k)-9] != 0 {
			return fmt.Errorf("report index key %x", k)
		}
		seq := binary.BigEndian.Uint64(k[len(k)-8:])
		return devs.Put(ReportIndexKey(string(k[:len(k)-9]), seq), bytes.Clone(v))
	}); err != nil {
		return err
	}
	return tx.DeleteBucket(bucketReportIndex)
}

// rememberEvidence (schema 5) turns what each device state held as the
// evidence of its latest report ("current") and as event evidence kept
// until a time ("sticky") into remembered evidence, each line last seen
// when it fired, so an upgrade keeps what devices showed and lets it fade
// by each rule's decay instead of dropping it at the next report. The
// device's observed clock starts at the newest of those times. Power
// samples counted by report cannot be placed in hours and are dropped: the
// shelf pattern is judged again from the next hours' reports.
func rememberEvidence(tx *bolt.Tx) error {
	devs := tx.Bucket(bucketDevices)
	type record struct{ k, v []byte }
	var out []record
	if err := devs.ForEach(func(k, v []byte) error {
		if bytes.IndexByte(k, 0) >= 0 {
			return nil // a report index entry
		}
		dev, state, err := splitDeviceRecord(v)
		if err != nil {
			return fmt.Errorf("device %s: %w", k, err)
		}
		if len(state) == 0 || state[0] == '{' {
			return nil // no state, or JSON that the analysis reads as it is
		}
		var st pb.StoredDeviceState
		if err := proto.Unmarshal(state, &st); err != nil {
			return fmt.Errorf("device %s: state: %w", k, err)
		}
		var newest int64
		lines := map[string]*pb.StoredEvidence{}
		for _, e := range st.GetCurrent() {
			lines[e.GetRule()] = e
		}
		for _, e := range st.GetSticky() { // kept until a time: newer than the report's own
			if old := lines[e.GetRule()]; old == nil || e.GetAt() >= old.GetAt() {
				lines[e.GetRule()] = e
			}
		}
		for _, e := range lines {
			newest = max(newest, e.GetAt())
		}
		st.Memory = nil
		for _, rule := range slices.Sorted(maps.Keys(lines)) {
			e := lines[rule]
			st.Memory = append(st.Memory, &pb.StoredMemory{Rule: rule, Weight: e.GetWeight(), Peak: e.GetWeight(),
				FirstSeen: e.GetAt(), LastSeen: e.GetAt(), LastClock: e.GetAt() - newest, Count: 1,
				Explanation: e.GetExplanation(), Facts: e.GetFacts()})
		}
		st.Current, st.Sticky, st.Shelf, st.PowerN = nil, nil, 0, 0
		st.Clock, st.ClockAt = 0, newest
		b, err := proto.Marshal(&st)
		if err != nil {
			return err
		}
		out = append(out, record{bytes.Clone(k), joinDeviceRecord(dev, b)})
		return nil
	}); err != nil {
		return err
	}
	for _, r := range out {
		if err := devs.Put(r.k, r.v); err != nil {
			return err
		}
	}
	return nil
}

// A device record (schema 3) is protobuf wire format: field 1 the device's
// own protobuf bytes, field 2 its analysis state (absent until the first
// report). Both are read in place, without a copy.
const (
	deviceRecordDevice = 1
	deviceRecordState  = 2
)

func joinDeviceRecord(dev, state []byte) []byte {
	b := make([]byte, 0, len(dev)+len(state)+12)
	b = protowire.AppendTag(b, deviceRecordDevice, protowire.BytesType)
	b = protowire.AppendBytes(b, dev)
	if len(state) > 0 {
		b = protowire.AppendTag(b, deviceRecordState, protowire.BytesType)
		b = protowire.AppendBytes(b, state)
	}
	return b
}

func splitDeviceRecord(v []byte) (dev, state []byte, err error) {
	for len(v) > 0 {
		num, typ, n := protowire.ConsumeTag(v)
		if n < 0 {
			return nil, nil, fmt.Errorf("device record: %w", protowire.ParseError(n))
		}
		v = v[n:]
		if typ != protowire.BytesType {
			if n = protowire.ConsumeFieldValue(num, typ, v); n < 0 {
				return nil, nil, fmt.Errorf("device record: %w", protowire.ParseError(n))
			}
			v = v[n:]
			continue
		}
		b, n := protowire.ConsumeBytes(v)
		if n < 0 {
			return nil, nil, fmt.Errorf("device record: %w", protowire.ParseError(n))
		}
		v = v[n:]
		switch num {
		case deviceRecordDevice:
			dev = b
		case deviceRecordState:
			state = b
		}
	}
	if dev == nil {
		return nil, nil, fmt.Errorf("device record without a device")
	}
	return dev, state, nil
}

// devicesOfHire lists a hire's device ids through the index.
func (tx *Tx) devicesOfHire(hire string) []string {
	var out []string
	prefix := append([]byte(hire), 0)
	c := tx.tx.Bucket(bucketDevByHire).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		out = append(out, string(k[len(prefix):]))
	}
	return out
}
