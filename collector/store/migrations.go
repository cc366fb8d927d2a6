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
// transaction: either every step commits or none does. Run is a step of
// bbolt files alone (the schemas before a store could live on PostgreSQL);
// KV runs through the key-value contract, on either backend.
type migration struct {
	To   uint64
	Name string
	Run  func(tx *bolt.Tx) error
	KV   func(tx kvTx) error
}

// migrations, in order. Never edit a released one; add the next.
var migrations = []migration{
	{To: 2, Name: "index devices by hire", Run: indexDevicesByHire},
	{To: 3, Name: "keep the analysis state in the device record", Run: deviceStateIntoDevices},
	{To: 4, Name: "keep each device's report index after its record", Run: reportIndexIntoDevices},
	{To: 5, Name: "key the report index on the spool generation", Run: reportIndexBySpool},
	{To: 6, Name: "remember each device's evidence", Run: rememberEvidence},
	{To: 7, Name: "register admin certificates", Run: registerAdminCerts},
	{To: 8, Name: "keep applicants and their staged imports", Run: keepApplicants},
	{To: 9, Name: "keep the alert event log", Run: keepAlertEvents},
	{To: 10, Name: "keep a cluster's links as entries after its record", KV: clusterLinksIntoEntries},
}

// migrateBolt makes the buckets a store holds where they are missing and
// runs migrate, in the transaction that opens a bbolt file.
func migrateBolt(tx *bolt.Tx) error {
	for _, b := range allBuckets {
		if _, err := tx.CreateBucketIfNotExists(b); err != nil {
			return err
		}
	}
	return migrate(tx)
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
	return runMigrations(boltTx{tx}, cur, func(m migration) error {
		if m.Run != nil {
			return m.Run(tx)
		}
		return m.KV(boltTx{tx})
	})
}

// migrateKV runs the migrations from schema cur through the key-value
// contract, in tx: those of a store on another backend than bbolt, all of
// which have a KV step (a PostgreSQL store began at schema 9).
func migrateKV(tx kvTx, cur uint64) error {
	return runMigrations(tx, cur, func(m migration) error {
		if m.KV == nil {
			return fmt.Errorf("a step of bbolt files alone, and this store is not one")
		}
		return m.KV(tx)
	})
}

// runMigrations runs each migration after schema cur through run, and
// records in tx each schema it reaches.
func runMigrations(tx kvTx, cur uint64, run func(migration) error) error {
	meta := tx.Bucket(bucketMeta)
	for _, m := range migrations {
		if m.To <= cur {
			continue
		}
		if m.To != cur+1 {
			return fmt.Errorf("no migration from schema %d to %d", cur, m.To)
		}
		if err := run(m); err != nil {
			return fmt.Errorf("migrate store to schema %d (%s): %w", m.To, m.Name, err)
		}
		tx.OnCommit(func() { slog.Info("store migrated", "schema", m.To, "step", m.Name) })
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
		out = append(out, record{bytes.Clone(k), joinDeviceRecord(deviceRecord{device: v, state: state})})
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
		return devs.Put(reportIndexKeyV4(string(k[:len(k)-9]), seq), bytes.Clone(v))
	}); err != nil {
		return err
	}
	return tx.DeleteBucket(bucketReportIndex)
}

// reportIndexKeyV4 is a report index key of schemas 4: the device id, a zero
// byte, the seq's complement.
func reportIndexKeyV4(deviceID string, seq uint64) []byte {
	k := make([]byte, 0, len(deviceID)+9)
	k = append(k, deviceID...)
	k = append(k, 0)
	return binary.BigEndian.AppendUint64(k, ^seq)
}

// indexKeyV4Seq returns the seq of a schema-4 report index key, and whether
// k is one: a device id without zero bytes, a zero byte, 8 bytes.
func indexKeyV4Seq(k []byte) (uint64, bool) {
	i := bytes.IndexByte(k, 0)
	if i < 0 || len(k)-i-1 != 8 {
		return 0, false
	}
	return ^binary.BigEndian.Uint64(k[i+1:]), true
}

// migrationChunk is how many entries a migration moves between two seeks.
var migrationChunk = 4096

// reportIndexBySpool (schema 5) keys the report index on (device,
// generation, seq), the reports stored so far, from agents that predate
// spool epochs, under generation 0 (ReportIndexKey), and gives each device
// with reports a spool ledger holding that epoch, its highest seq and when
// that arrived, so that dedupe and the sequence checks go on across the
// upgrade. Memory stays bounded: the entries are moved a chunk at a time.
func reportIndexBySpool(tx *bolt.Tx) error {
	devs := tx.Bucket(bucketDevices)
	type ledger struct {
		id, record []byte
	}
	var ledgers []ledger
	c := devs.Cursor()
	for k, v := c.First(); k != nil; {
		if bytes.IndexByte(k, 0) >= 0 { // index entries of no record
			k, v = c.Seek(append(bytes.Clone(k[:bytes.IndexByte(k, 0)]), 1))
			continue
		}
		id, record := bytes.Clone(k), bytes.Clone(v)
		ik, iv := c.Next()
		if seq, ok := indexKeyV4Seq(ik); ok && bytes.HasPrefix(ik, append(bytes.Clone(id), 0)) && len(iv) == 16 {
			// Newest first: the device's first entry is its highest seq.
			rec, err := splitDeviceRecord(record)
			if err != nil {
				return fmt.Errorf("device %s: %w", id, err)
			}
			d := &pb.Device{}
			if err := proto.Unmarshal(rec.device, d); err != nil {
				return fmt.Errorf("device %s: %w", id, err)
			}
			l := &spoolLedger{seen: 1, epochs: []spoolEpoch{{epoch: 0, gen: 0, highSeq: seq,
				highAt: int64(binary.BigEndian.Uint64(iv[:8]))}}}
			l.describe(d)
			if rec.device, err = (proto.MarshalOptions{Deterministic: true}).Marshal(d); err != nil {
				return err
			}
			rec.spools = l.encode()
			ledgers = append(ledgers, ledger{id, joinDeviceRecord(rec)})
		}
		k, v = c.Seek(append(id, 1))
	}
	for _, l := range ledgers {
		if err := devs.Put(l.id, l.record); err != nil {
			return err
		}
	}
	type entry struct{ k, v []byte }
	var from []byte
	for {
		var chunk []entry
		c := devs.Cursor()
		k, v := c.First()
		if from != nil {
			k, v = c.Seek(from)
		}
		for ; k != nil && len(chunk) < migrationChunk; k, v = c.Next() {
			if _, ok := indexKeyV4Seq(k); ok {
				chunk = append(chunk, entry{bytes.Clone(k), bytes.Clone(v)})
			}
		}
		if len(chunk) == 0 {
			return nil
		}
		for _, e := range chunk {
			seq, _ := indexKeyV4Seq(e.k)
			if err := devs.Delete(e.k); err != nil {
				return err
			}
			if err := devs.Put(ReportIndexKey(string(e.k[:len(e.k)-9]), 0, seq), e.v); err != nil {
				return err
			}
		}
		from = chunk[len(chunk)-1].k
	}
}

// A device record (schema 3) is protobuf wire format: field 1 the device's
// own protobuf bytes, field 2 its analysis state (absent until the first
// report), field 3 its spool ledger (schema 5, absent until the first
// report). All are read in place, without a copy.
const (
	deviceRecordDevice = 1
	deviceRecordState  = 2
	deviceRecordSpools = 3
)

// deviceRecord is a device record's parts, each in its own encoding.
type deviceRecord struct {
	device, state, spools []byte
}

func joinDeviceRecord(r deviceRecord) []byte {
	b := make([]byte, 0, len(r.device)+len(r.state)+len(r.spools)+18)
	b = protowire.AppendTag(b, deviceRecordDevice, protowire.BytesType)
	b = protowire.AppendBytes(b, r.device)
	if len(r.state) > 0 {
		b = protowire.AppendTag(b, deviceRecordState, protowire.BytesType)
		b = protowire.AppendBytes(b, r.state)
	}
	if len(r.spools) > 0 {
		b = protowire.AppendTag(b, deviceRecordSpools, protowire.BytesType)
		b = protowire.AppendBytes(b, r.spools)
	}
	return b
}

func splitDeviceRecord(v []byte) (deviceRecord, error) {
	var r deviceRecord
	for len(v) > 0 {
		num, typ, n := protowire.ConsumeTag(v)
		if n < 0 {
			return r, fmt.Errorf("device record: %w", protowire.ParseError(n))
		}
		v = v[n:]
		if typ != protowire.BytesType {
			if n = protowire.ConsumeFieldValue(num, typ, v); n < 0 {
				return r, fmt.Errorf("device record: %w", protowire.ParseError(n))
			}
			v = v[n:]
			continue
		}
		b, n := protowire.ConsumeBytes(v)
		if n < 0 {
			return r, fmt.Errorf("device record: %w", protowire.ParseError(n))
		}
		v = v[n:]
		switch num {
		case deviceRecordDevice:
			r.device = b
		case deviceRecordState:
			r.state = b
		case deviceRecordSpools:
			r.spools = b
		}
	}
	if r.device == nil {
		return r, fmt.Errorf("device record without a device")
	}
	return r, nil
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

// rememberEvidence (schema 6) turns what each device state held as the
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
		rec, err := splitDeviceRecord(v)
		if err != nil {
			return fmt.Errorf("device %s: %w", k, err)
		}
		if len(rec.state) == 0 || rec.state[0] == '{' {
			return nil // no state, or JSON that the analysis reads as it is
		}
		var st pb.StoredDeviceState
		if err := proto.Unmarshal(rec.state, &st); err != nil {
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
		rec.state = b
		out = append(out, record{bytes.Clone(k), joinDeviceRecord(rec)})
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

// registerAdminCerts (schema 7) adds the registry of admin certificates and
// their revocations. Nothing moves; the version bump is the point: a
// collector older than this would ignore revocations, so it must refuse
// the store rather than let a revoked certificate back in.
func registerAdminCerts(tx *bolt.Tx) error {
	_, err := tx.CreateBucketIfNotExists(bucketAdminCerts)
	return err
}

// keepApplicants (schema 8) adds the applicants, their email index, their
// alert links and the staging area of imports. Nothing moves; an older
// collector would not roll a committed import forward, so it must refuse the
// store.
func keepApplicants(tx *bolt.Tx) error {
	for _, b := range [][]byte{bucketApplicants, bucketApplicantEmails, bucketApplicantAlerts, bucketApplicantStaging} {
		if _, err := tx.CreateBucketIfNotExists(b); err != nil {
			return err
		}
	}
	return nil
}
