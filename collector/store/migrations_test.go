package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// writeV1 makes a store as schema 1 left it: devices but no hire index.
func writeV1(t *testing.T, dir string) {
	t.Helper()
	db, err := bolt.Open(filepath.Join(dir, "farmwatch.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(tx *bolt.Tx) error {
		meta, _ := tx.CreateBucketIfNotExists(bucketMeta)
		meta.Put(keySchema, u64(1))
		hires, _ := tx.CreateBucketIfNotExists(bucketHires)
		devs, _ := tx.CreateBucketIfNotExists(bucketDevices)
		for _, d := range []*pb.Device{{Id: "d-1", HireId: "h1"}, {Id: "d-2", HireId: "h1"}, {Id: "d-3", HireId: "h2"}} {
			v, _ := proto.Marshal(d)
			devs.Put([]byte(d.Id), v)
		}
		for _, h := range []string{"h1", "h2"} {
			v, _ := proto.Marshal(&pb.Hire{Id: h})
			hires.Put([]byte(h), v)
		}
		// The analysis state had a bucket of its own before schema 3; a
		// state whose device is gone is dropped.
		states, _ := tx.CreateBucketIfNotExists(bucketDeviceState)
		states.Put([]byte("d-1"), []byte(`{"reports":7}`))
		states.Put([]byte("d-gone"), []byte(`{"reports":1}`))
		// The report index had a bucket of its own, oldest seq first, before
		// schema 4.
		reports, _ := tx.CreateBucketIfNotExists(bucketReports)
		index, _ := tx.CreateBucketIfNotExists(bucketReportIndex)
		for seq := uint64(1); seq <= 3; seq++ {
			v, err := EncodeReport(&pb.StoredReport{DeviceId: "d-1", Report: &pb.Report{Seq: seq}})
			if err != nil {
				return err
			}
			rkey := append(u64(seq*1000), u64(seq)...)
			reports.Put(rkey, v)
			index.Put(binary.BigEndian.AppendUint64([]byte("d-1\x00"), seq), rkey)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestMigrateV1ToCurrent(t *testing.T) {
	requireBolt(t)
	dir := t.TempDir()
	writeV1(t, dir)
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.View(func(tx *Tx) error {
		if v := tx.tx.Bucket(bucketMeta).Get(keySchema); binary.BigEndian.Uint64(v) != SchemaVersion {
			t.Errorf("schema %d after migration, want %d", binary.BigEndian.Uint64(v), SchemaVersion)
		}
		got, err := tx.Devices("h1")
		if err != nil || len(got) != 2 {
			t.Errorf("devices of h1 through the new index: %v %v", got, err)
		}
		if got, _ := tx.Devices("h2"); len(got) != 1 || got[0].GetId() != "d-3" {
			t.Errorf("devices of h2: %v", got)
		}
		if got := string(tx.DeviceState("d-1")); got != `{"reports":7}` {
			t.Errorf("state of d-1 after the move into its record: %q", got)
		}
		if got := tx.DeviceState("d-2"); got != nil {
			t.Errorf("d-2 had no state, now %q", got)
		}
		if tx.tx.Bucket(bucketDeviceState) != nil || tx.tx.Bucket(bucketReportIndex) != nil {
			t.Error("an old bucket is still there")
		}
		got, err = tx.Devices("")
		if err != nil || len(got) != 3 {
			t.Errorf("all devices, with d-1's index among them: %v %v", got, err)
		}
		reports, err := tx.Reports("d-1", 2)
		if err != nil || len(reports) != 2 || reports[0].GetReport().GetSeq() != 3 || reports[1].GetReport().GetSeq() != 2 {
			t.Errorf("d-1's newest two reports through the moved index: %v %v", reports, err)
		}
		if !tx.HasReport("d-1", 1) || tx.HasReport("d-1", 4) || tx.HasReport("d-2", 1) {
			t.Error("HasReport after the move of the index")
		}
		// The device and its state are written independently.
		if err := tx.PutDeviceState("d-2", []byte(`{"reports":2}`)); err == nil {
			t.Error("a read-only transaction wrote")
		}
		return nil
	})
	s.Update(func(tx *Tx) error {
		d, err := tx.Device("d-1")
		if err != nil {
			t.Fatal(err)
		}
		d.Hostname = "renamed"
		if err := tx.PutDevice(d); err != nil {
			t.Fatal(err)
		}
		if got := string(tx.DeviceState("d-1")); got != `{"reports":7}` {
			t.Errorf("state of d-1 after PutDevice: %q", got)
		}
		if err := tx.PutDeviceState("d-1", []byte(`{"reports":8}`)); err != nil {
			t.Fatal(err)
		}
		if d, _ := tx.Device("d-1"); d.GetHostname() != "renamed" || string(tx.DeviceState("d-1")) != `{"reports":8}` {
			t.Errorf("after PutDeviceState: host %q, state %q", d.GetHostname(), tx.DeviceState("d-1"))
		}
		if err := tx.PutDeviceState("d-gone", []byte(`{}`)); !errors.Is(err, ErrNotFound) {
			t.Errorf("state of an unknown device: %v", err)
		}
		return nil
	})
}

func TestRefuseNewerSchema(t *testing.T) {
	requireBolt(t)
	dir := t.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.Update(func(tx *Tx) error { return tx.tx.Bucket(bucketMeta).Put(keySchema, u64(SchemaVersion+1)) })
	s.Close()
	_, err = Open(dir, Options{})
	if err == nil || !strings.Contains(err.Error(), "newer than this collector understands") {
		t.Fatalf("opening a newer store: %v", err)
	}
}

func TestFailedMigrationChangesNothing(t *testing.T) {
	requireBolt(t)
	dir := t.TempDir()
	writeV1(t, dir)
	saved := migrations
	t.Cleanup(func() { migrations = saved })
	migrations = append([]migration(nil), saved...)
	migrations[0].Run = func(tx *bolt.Tx) error {
		if err := indexDevicesByHire(tx); err != nil {
			return err
		}
		return errBoom
	}
	if _, err := Open(dir, Options{}); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("open with a failing migration: %v", err)
	}
	db, _ := bolt.Open(filepath.Join(dir, "farmwatch.db"), 0o600, &bolt.Options{ReadOnly: true})
	defer db.Close()
	db.View(func(tx *bolt.Tx) error {
		if v := binary.BigEndian.Uint64(tx.Bucket(bucketMeta).Get(keySchema)); v != 1 {
			t.Errorf("schema %d after a failed migration, want 1", v)
		}
		if tx.Bucket(bucketDevByHire) != nil {
			t.Error("half a migration was committed")
		}
		return nil
	})
}

var errBoom = errString("boom")

type errString string

func (e errString) Error() string { return string(e) }

// writeV4 makes a store as schema 4 left it: each device's report index
// after its record, keyed on (device, ^seq), from agents without spool
// epochs. d-1 and d-10 (whose id d-1 is a prefix of) have three reports
// each, received an hour apart from v4Start; d-2 has none.
func writeV4(t *testing.T, dir string) {
	t.Helper()
	db, err := bolt.Open(filepath.Join(dir, "farmwatch.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		tx.Bucket(bucketMeta).Put(keySchema, u64(4))
		hires, devs, reports := tx.Bucket(bucketHires), tx.Bucket(bucketDevices), tx.Bucket(bucketReports)
		v, _ := proto.Marshal(&pb.Hire{Id: "h1"})
		hires.Put([]byte("h1"), v)
		counter := uint64(0)
		for _, id := range []string{"d-1", "d-10", "d-2"} {
			d := &pb.Device{Id: id, HireId: "h1", EnrolledAt: timestamppb.New(v4Start.Add(-time.Hour))}
			if id != "d-2" {
				d.LastSeq, d.Reports = 3, 3
			}
			v, _ := proto.Marshal(d)
			devs.Put([]byte(id), joinDeviceRecord(deviceRecord{device: v, state: []byte(`{"reports":3}`)}))
			if id == "d-2" {
				continue
			}
			for seq := uint64(1); seq <= 3; seq++ {
				at := v4Start.Add(time.Duration(seq) * time.Hour)
				v, err := EncodeReport(&pb.StoredReport{DeviceId: id, ReceivedAt: timestamppb.New(at),
					Report: &pb.Report{Seq: seq, Host: &pb.Host{Hostname: id}}})
				if err != nil {
					return err
				}
				counter++
				rkey := append(u64(uint64(at.UnixNano())), u64(counter)...)
				reports.Put(rkey, v)
				devs.Put(reportIndexKeyV4(id, seq), rkey)
			}
		}
		return tx.Bucket(bucketMeta).Put(keyCounter, u64(counter))
	})
	if err != nil {
		t.Fatal(err)
	}
}

var v4Start = time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)

// Schema 5 keys the report index on the spool generation: the reports of a
// schema-4 store go under generation 0 (no epoch), each device with reports
// gets a ledger of that epoch, and dedupe and the sequence checks carry on.
func TestMigrateV4IndexToSpoolGenerations(t *testing.T) {
	requireBolt(t)
	dir := t.TempDir()
	writeV4(t, dir)
	saved := migrationChunk
	t.Cleanup(func() { migrationChunk = saved })
	migrationChunk = 2 // chunks end inside a device's entries and between devices
	log := &eventLog{}
	s, err := Open(dir, Options{Event: log.record})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.View(func(tx *Tx) error {
		if v := binary.BigEndian.Uint64(tx.tx.Bucket(bucketMeta).Get(keySchema)); v != SchemaVersion {
			t.Errorf("schema %d after migration, want %d", v, SchemaVersion)
		}
		tx.Scan(bucketDevices, nil, func(k, v []byte) bool {
			if i := bytes.IndexByte(k, 0); i >= 0 && len(k)-i-1 != 12 {
				t.Errorf("index key %x left in the old layout", k)
			}
			return true
		})
		for _, id := range []string{"d-1", "d-10"} {
			rs, err := tx.Reports(id, 10)
			if err != nil || len(rs) != 3 {
				t.Fatalf("%s: %d reports, %v", id, len(rs), err)
			}
			for i, r := range rs {
				if r.GetReport().GetSeq() != uint64(3-i) || r.GetDeviceId() != id {
					t.Errorf("%s report %d: seq %d of %s", id, i, r.GetReport().GetSeq(), r.GetDeviceId())
				}
			}
			if !tx.HasReport(id, 3) || !tx.HasSpoolReport(id, 0, 1) || tx.HasReport(id, 4) {
				t.Errorf("%s: HasReport after the migration", id)
			}
			d, err := tx.Device(id)
			if err != nil || d.GetSpoolGenerations() != 1 || d.GetSpoolEpoch() != 0 || d.GetLastSeq() != 3 || d.GetReports() != 3 {
				t.Errorf("%s after the migration: %v %v", id, d, err)
			}
			if got := string(tx.DeviceState(id)); got != `{"reports":3}` {
				t.Errorf("%s: state %q after the migration", id, got)
			}
			l, err := tx.spoolLedger(id)
			if err != nil || len(l.epochs) != 1 || l.epochs[0] != (spoolEpoch{epoch: 0, gen: 0, highSeq: 3, highAt: v4Start.Add(3 * time.Hour).UnixNano()}) {
				t.Errorf("%s: ledger %+v %v", id, l, err)
			}
		}
		if d, _ := tx.Device("d-2"); d.GetSpoolGenerations() != 0 {
			t.Errorf("d-2 without reports has %d spools", d.GetSpoolGenerations())
		}
		if l, _ := tx.spoolLedger("d-2"); len(l.epochs) != 0 {
			t.Errorf("d-2 without reports got a ledger %+v", l)
		}
		if ds, err := tx.Devices(""); err != nil || len(ds) != 3 {
			t.Errorf("devices after the migration: %d %v", len(ds), err)
		}
		return nil
	})
	at := v4Start.Add(4 * time.Hour)
	res, err := s.Ingest("d-1", []*pb.StoredReport{{ReceivedAt: timestamppb.New(at), Report: &pb.Report{Seq: 2, Host: &pb.Host{Hostname: "d-1"}}}})
	if err != nil || len(res.Duplicates) != 1 {
		t.Fatalf("a resend of a report stored before the migration: %+v %v", res, err)
	}
	// The upgraded agent goes on under its first epoch: no reset.
	res, err = s.Ingest("d-1", []*pb.StoredReport{{ReceivedAt: timestamppb.New(at), Report: &pb.Report{Seq: 4, SpoolEpoch: 0xa}}})
	if err != nil || len(res.Duplicates) != 0 {
		t.Fatalf("the first report under an epoch: %+v %v", res, err)
	}
	if got := log.kinds(); len(got) != 0 {
		t.Errorf("events %v after the upgrade", got)
	}
	var jump *SeqJumpError
	_, err = s.Ingest("d-10", []*pb.StoredReport{{ReceivedAt: timestamppb.New(at), Report: &pb.Report{Seq: math.MaxUint64}}})
	if !errors.As(err, &jump) || jump.Bound != seqBound(3, v4Start.Add(3*time.Hour), at) {
		t.Fatalf("seq 2^64-1 after the migration: %v", err)
	}
}

// BenchmarkMigrateSchema5 times the schema-5 step on a schema-4 store of
// 1,000 devices with 200 reports each: the report index is rewritten whole,
// in the opening transaction.
//
//	go test -run '^$' -bench MigrateSchema5 -benchtime 3x ./collector/store/
func BenchmarkMigrateSchema5(b *testing.B) {
	requireBolt(b)
	const devices, per = 1000, 200
	for range b.N {
		b.StopTimer()
		dir := b.TempDir()
		db, err := bolt.Open(filepath.Join(dir, "farmwatch.db"), 0o600, &bolt.Options{NoSync: true})
		if err != nil {
			b.Fatal(err)
		}
		err = db.Update(func(tx *bolt.Tx) error {
			for _, bk := range allBuckets {
				if _, err := tx.CreateBucketIfNotExists(bk); err != nil {
					return err
				}
			}
			tx.Bucket(bucketMeta).Put(keySchema, u64(4))
			devs := tx.Bucket(bucketDevices)
			// In key order: bbolt splits nodes only at commit, so keys put
			// out of order into one transaction cost a move each.
			for d := range devices {
				id := fmt.Sprintf("d-%08d", d)
				v, _ := proto.Marshal(&pb.Device{Id: id, HireId: "h1", LastSeq: per, Reports: per})
				devs.Put([]byte(id), joinDeviceRecord(deviceRecord{device: v}))
				for seq := uint64(per); seq >= 1; seq-- {
					devs.Put(reportIndexKeyV4(id, seq), append(u64(uint64(v4Start.Add(time.Duration(seq)*time.Minute).UnixNano())), u64(seq)...))
				}
			}
			return nil
		})
		db.Close()
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		s, err := Open(dir, Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		s.Close()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*devices*per), "ns/index-entry")
}

// A store written before schema 6 keeps what its devices' states held: the
// evidence of their latest report and their event evidence become
// remembered evidence, last seen when it fired.
func TestMigrateV4RemembersEvidence(t *testing.T) {
	requireBolt(t)
	dir := t.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	at := int64(1_790_000_000_000_000_000)
	old := &pb.StoredDeviceState{ActiveSamples: 9, Shelf: 0xff, PowerN: 8, Reviewed: []string{"hw.jiggler"},
		Current: []*pb.StoredEvidence{
			{Rule: "geo.high_risk_peer", Weight: 3.5, Explanation: "peer in KP", At: at},
			{Rule: "geo.impossible_travel", Weight: 1.5, Explanation: "repeated by withSticky", At: at - 3600e9},
		},
		Sticky: map[string]*pb.StoredEvidence{"geo.impossible_travel": {Rule: "geo.impossible_travel", Weight: 1.5,
			Explanation: "Seoul then Phoenix", At: at - 3600e9, Until: at + 100*3600e9}}}
	state, _ := proto.Marshal(old)
	err = s.Update(func(tx *Tx) error {
		if err := tx.PutDevice(&pb.Device{Id: "d-1", HireId: "h1"}); err != nil {
			return err
		}
		if err := tx.PutDevice(&pb.Device{Id: "d-json", HireId: "h1"}); err != nil {
			return err
		}
		if err := tx.PutDeviceState("d-json", []byte(`{"active_samples":3}`)); err != nil {
			return err
		}
		if err := tx.PutDeviceState("d-1", state); err != nil {
			return err
		}
		return tx.tx.Bucket(bucketMeta).Put(keySchema, u64(4))
	})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if s, err = Open(dir, Options{}); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.View(func(tx *Tx) error {
		if v := binary.BigEndian.Uint64(tx.tx.Bucket(bucketMeta).Get(keySchema)); v != SchemaVersion {
			t.Errorf("schema %d", v)
		}
		var st pb.StoredDeviceState
		if err := proto.Unmarshal(tx.DeviceState("d-1"), &st); err != nil {
			t.Fatal(err)
		}
		if len(st.GetCurrent()) != 0 || len(st.GetSticky()) != 0 || st.GetShelf() != 0 || st.GetActiveSamples() != 9 ||
			st.GetClockAt() != at || len(st.GetReviewed()) != 1 {
			t.Errorf("state after migration: %v", &st)
		}
		want := map[string][2]int64{"geo.high_risk_peer": {at, 0}, "geo.impossible_travel": {at - 3600e9, -3600e9}}
		if len(st.GetMemory()) != 2 {
			t.Fatalf("memory %v", st.GetMemory())
		}
		for _, m := range st.GetMemory() {
			w := want[m.GetRule()]
			if m.GetLastSeen() != w[0] || m.GetFirstSeen() != w[0] || m.GetLastClock() != w[1] || m.GetCount() != 1 || m.GetPeak() != m.GetWeight() {
				t.Errorf("memory line %v, want last seen %d at clock %d", m, w[0], w[1])
			}
			if m.GetRule() == "geo.impossible_travel" && m.GetExplanation() != "Seoul then Phoenix" {
				t.Errorf("the sticky line's sentence was not kept: %q", m.GetExplanation())
			}
		}
		if got := string(tx.DeviceState("d-json")); got != `{"active_samples":3}` {
			t.Errorf("a JSON state was rewritten: %q", got)
		}
		return nil
	})
}
