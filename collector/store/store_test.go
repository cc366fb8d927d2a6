package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// testBackend, when set, opens the stores of the tests on another backend
// than bbolt: the store tests are then a conformance suite of that backend.
// dir names the store: opening the same dir again opens the same data (the
// tests that reopen a store). It fails the test when it cannot open one.
var testBackend func(t testing.TB, dir string, opts Options) *Store

// openTest opens the store every store test uses: on bbolt in dir, or
// through testBackend when set.
func openTest(t testing.TB, dir string, opts Options) *Store {
	t.Helper()
	if testBackend != nil {
		return testBackend(t, dir, opts)
	}
	s, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// requireBolt skips a test of what exists only for a store in a bbolt file
// (the file, its copy, its pages, its memory map, its lock, its migrations)
// when the tests run on another backend.
func requireBolt(t testing.TB) {
	t.Helper()
	if testBackend != nil {
		t.Skip("tests a feature of bbolt files; the tests run on another backend")
	}
}

func addDevice(t *testing.T, s *Store, id string) {
	t.Helper()
	if err := s.Update(func(tx *Tx) error {
		if err := tx.PutHire(&pb.Hire{Id: "h-" + id, Name: "N"}); err != nil {
			return err
		}
		return tx.PutDevice(&pb.Device{Id: id, HireId: "h-" + id})
	}); err != nil {
		t.Fatal(err)
	}
}

func stored(dev string, seq uint64, at time.Time) *pb.StoredReport {
	return &pb.StoredReport{Report: &pb.Report{Seq: seq, CollectedAt: timestamppb.New(at),
		Host: &pb.Host{Hostname: fmt.Sprintf("%s-host", dev)}}, ReceivedAt: timestamppb.New(at), PublicIp: "203.0.113.9"}
}

func TestIngestDedupeAndReopen(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir, Options{})
	addDevice(t, s, "d-1")
	t0 := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	res, err := s.Ingest("d-1", []*pb.StoredReport{stored("d-1", 1, t0), stored("d-1", 2, t0.Add(time.Minute)), stored("d-1", 2, t0.Add(time.Minute))})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Acknowledged) != 3 || len(res.Duplicates) != 1 || res.Duplicates[0] != 2 {
		t.Fatalf("result %+v: want 3 acknowledged, seq 2 once a duplicate", res)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// Everything acknowledged is there after a reopen, and a replay is a duplicate.
	s = openTest(t, dir, Options{})
	defer s.Close()
	res, err = s.Ingest("d-1", []*pb.StoredReport{stored("d-1", 1, t0)})
	if err != nil || len(res.Duplicates) != 1 {
		t.Fatalf("replay after reopen: %+v %v", res, err)
	}
	var reports []*pb.StoredReport
	var dev *pb.Device
	if err := s.View(func(tx *Tx) error {
		var err error
		if reports, err = tx.Reports("d-1", 10); err != nil {
			return err
		}
		dev, err = tx.Device("d-1")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if len(reports) != 2 || reports[0].GetReport().GetSeq() != 2 || reports[1].GetReport().GetSeq() != 1 {
		t.Fatalf("reports newest first: got %d, seqs %v", len(reports), seqs(reports))
	}
	if reports[0].GetDeviceId() != "d-1" || reports[0].GetPublicIp() != "203.0.113.9" {
		t.Errorf("stored report lost fields: %v", reports[0])
	}
	if dev.GetReports() != 2 || dev.GetLastSeq() != 2 || dev.GetHostname() != "d-1-host" {
		t.Errorf("device record %v", dev)
	}
}

func seqs(rs []*pb.StoredReport) []uint64 {
	var out []uint64
	for _, r := range rs {
		out = append(out, r.GetReport().GetSeq())
	}
	return out
}

func TestReportsDoNotMixDevices(t *testing.T) {
	s := openTest(t, t.TempDir(), Options{})
	defer s.Close()
	// "d-1" is a prefix of "d-10": the index must keep them apart.
	for _, d := range []string{"d-1", "d-10", "d-2"} {
		addDevice(t, s, d)
		for q := uint64(1); q <= 3; q++ {
			if _, err := s.Ingest(d, []*pb.StoredReport{stored(d, q, time.Now())}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := s.View(func(tx *Tx) error {
		for _, d := range []string{"d-1", "d-10", "d-2"} {
			rs, err := tx.Reports(d, 100)
			if err != nil {
				return err
			}
			if len(rs) != 3 {
				t.Errorf("%s: %d reports, want 3", d, len(rs))
			}
			for _, r := range rs {
				if r.GetDeviceId() != d {
					t.Errorf("%s: got a report of %s", d, r.GetDeviceId())
				}
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// A call for a device that does not exist, or one its admission check turns
// away, fails alone: calls of other devices committed in the same
// transaction are stored, and the refused call stores nothing.
func TestIngestRefusalFailsThatCallOnly(t *testing.T) {
	s := openTest(t, t.TempDir(), Options{})
	defer s.Close()
	const devices, per = 8, 20
	for i := range devices {
		addDevice(t, s, fmt.Sprintf("d-%02d", i))
	}
	errRevoked := errors.New("revoked")
	admit := func(tx *Tx, dev *pb.Device) error {
		if _, err := tx.HireShared(dev.GetHireId()); err != nil {
			return err
		}
		if dev.GetId() == "d-07" {
			return errRevoked
		}
		return nil
	}
	var wg sync.WaitGroup
	errs := make(chan error, 2*devices*per)
	for i := range devices {
		wg.Add(2)
		go func() { // a known device, d-07 refused by admission
			defer wg.Done()
			id := fmt.Sprintf("d-%02d", i)
			for q := uint64(1); q <= per; q++ {
				_, err := s.IngestAdmitted(id, []*pb.StoredReport{stored(id, q, time.Now())}, admit)
				switch {
				case id == "d-07" && err != errRevoked:
					errs <- fmt.Errorf("%s seq %d: got %v, want the admission error unchanged", id, q, err)
				case id != "d-07" && err != nil:
					errs <- fmt.Errorf("%s seq %d: %v", id, q, err)
				}
			}
		}()
		go func() { // a device that does not exist, interleaved with the others
			defer wg.Done()
			id := fmt.Sprintf("d-missing-%02d", i)
			for q := uint64(1); q <= per; q++ {
				if _, err := s.Ingest(id, []*pb.StoredReport{stored(id, q, time.Now())}); !errors.Is(err, ErrNotFound) {
					errs <- fmt.Errorf("%s seq %d: got %v, want ErrNotFound", id, q, err)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	s.View(func(tx *Tx) error {
		if n := tx.ReportCount(); n != (devices-1)*per {
			t.Errorf("%d reports stored, want %d", n, (devices-1)*per)
		}
		if tx.HasReport("d-07", 1) {
			t.Error("a refused call stored a report")
		}
		if d, _ := tx.Device("d-07"); d.GetReports() != 0 {
			t.Errorf("a refused call changed its device: %d reports", d.GetReports())
		}
		return nil
	})
}

// A shared hire is decoded once and reused while its bytes are unchanged; an
// update is seen at once.
func TestHireSharedFollowsUpdates(t *testing.T) {
	s := openTest(t, t.TempDir(), Options{})
	defer s.Close()
	addDevice(t, s, "d-1")
	var first, again *pb.Hire
	s.View(func(tx *Tx) error { first, _ = tx.HireShared("h-d-1"); again, _ = tx.HireShared("h-d-1"); return nil })
	if first == nil || first != again {
		t.Fatalf("unchanged hire decoded twice (%p, %p)", first, again)
	}
	if err := s.Update(func(tx *Tx) error { return tx.PutHire(&pb.Hire{Id: "h-d-1", Name: "Renamed"}) }); err != nil {
		t.Fatal(err)
	}
	s.View(func(tx *Tx) error { again, _ = tx.HireShared("h-d-1"); return nil })
	if again.GetName() != "Renamed" || first.GetName() != "N" {
		t.Fatalf("after an update: %q (the earlier copy %q)", again.GetName(), first.GetName())
	}
	// Within one transaction too: an update after a shared read is seen.
	s.Update(func(tx *Tx) error {
		if h, _ := tx.HireShared("h-d-1"); h.GetName() != "Renamed" {
			t.Errorf("before the update: %q", h.GetName())
		}
		if err := tx.PutHire(&pb.Hire{Id: "h-d-1", Name: "Again"}); err != nil {
			return err
		}
		if h, _ := tx.HireShared("h-d-1"); h.GetName() != "Again" {
			t.Errorf("an update in the same transaction is not seen: %q", h.GetName())
		}
		return nil
	})
	s.View(func(tx *Tx) error {
		if _, err := tx.HireShared("h-none"); !errors.Is(err, ErrNotFound) {
			t.Errorf("missing hire: %v", err)
		}
		return nil
	})
}

// Concurrent writers share transactions; each gets exactly its own result.
func TestConcurrentIngestBatches(t *testing.T) {
	s := openTest(t, t.TempDir(), Options{})
	const devices, per = 20, 25
	for i := range devices {
		addDevice(t, s, fmt.Sprintf("d-%02d", i))
	}
	var wg sync.WaitGroup
	errs := make(chan error, devices*per)
	for i := range devices {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprintf("d-%02d", i)
			for q := uint64(1); q <= per; q++ {
				res, err := s.Ingest(id, []*pb.StoredReport{stored(id, q, time.Now())})
				if err != nil {
					errs <- err
					return
				}
				if len(res.Acknowledged) != 1 || res.Acknowledged[0] != q {
					errs <- fmt.Errorf("%s seq %d: result %+v", id, q, res)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	n := 0
	s.View(func(tx *Tx) error { n = tx.ReportCount(); return nil })
	if n != devices*per {
		t.Fatalf("%d reports stored, want %d", n, devices*per)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Ingest("d-00", nil); err != ErrClosed {
		t.Fatalf("ingest after close: %v, want ErrClosed", err)
	}
}

func TestStoredReportsAreCompact(t *testing.T) {
	c := newCodec()
	sr := stored("d-1", 1, time.Now())
	sr.Report.Network = &pb.Network{}
	for i := range 8 {
		sr.Report.Network.Interfaces = append(sr.Report.Network.Interfaces, &pb.Interface{
			Name: fmt.Sprintf("en%d", i), Mac: "a4:83:e7:00:00:01", Addresses: []string{"192.168.1.10/24", "fe80::1/64"}, Kind: "wifi"})
	}
	v, err := c.encode(sr)
	if err != nil {
		t.Fatal(err)
	}
	back, err := c.decode(v)
	if err != nil {
		t.Fatal(err)
	}
	if back.GetReport().GetSeq() != 1 || len(back.GetReport().GetNetwork().GetInterfaces()) != 8 {
		t.Fatalf("round trip lost data: %v", back)
	}
	if len(v) > 1024 {
		t.Errorf("encoded report is %d bytes; values over 1 KB waste bbolt pages", len(v))
	}
	if raw, _ := proto.Marshal(sr); len(v) >= len(raw) {
		t.Errorf("encoded report is %d bytes, its protobuf %d: not compressed", len(v), len(raw))
	}
}

// Reports written before S2 were zstd frames; they must still read back, as
// must new ones, and a value of neither format is an error, not a panic.
func TestCodecReadsEveryFormat(t *testing.T) {
	c := newCodec()
	sr := stored("d-1", 7, time.Now())
	raw, err := proto.MarshalOptions{Deterministic: true}.Marshal(sr)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest))
	if err != nil {
		t.Fatal(err)
	}
	legacy := enc.EncodeAll(raw, nil)
	current, err := c.encode(sr)
	if err != nil {
		t.Fatal(err)
	}
	if current[0] != formatS2 {
		t.Fatalf("new value starts with 0x%02x, want the S2 format byte", current[0])
	}
	for name, v := range map[string][]byte{"zstd (legacy)": legacy, "s2": current} {
		back, err := c.decode(v)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !proto.Equal(back, sr) {
			t.Fatalf("%s: round trip changed the report", name)
		}
	}
	for _, bad := range [][]byte{nil, {0x7f, 1, 2}, {formatS2, 0xff, 0xff, 0xff}} {
		if _, err := c.decode(bad); err == nil {
			t.Errorf("value %x decoded without error", bad)
		}
	}
}

func TestLockedStoreSaysWhy(t *testing.T) {
	requireBolt(t)
	dir := t.TempDir()
	s := openTest(t, dir, Options{})
	defer s.Close()
	_, err := Open(dir, Options{})
	if err == nil {
		t.Fatal("second open of a locked store succeeded")
	}
	if want := "locked by another process"; !strings.Contains(err.Error(), want) {
		t.Fatalf("error %q does not say %q", err, want)
	}
}

// A shared alert follows the stored bytes too: the farm's alert is read on
// every member's report and changed on few.
func TestAlertSharedFollowsUpdates(t *testing.T) {
	s := openTest(t, t.TempDir(), Options{})
	defer s.Close()
	put := func(score float64) {
		t.Helper()
		if err := s.Update(func(tx *Tx) error {
			return tx.PutAlert("C-000001", &pb.Alert{Id: "A-1", Status: "open", Score: score})
		}); err != nil {
			t.Fatal(err)
		}
	}
	put(0.5)
	var a, b *pb.Alert
	s.View(func(tx *Tx) error { a, _ = tx.AlertShared("A-1"); b, _ = tx.AlertShared("A-1"); return nil })
	if a == nil || a != b || a.GetScore() != 0.5 {
		t.Fatalf("unchanged alert: %v, %p %p", a, a, b)
	}
	put(0.9)
	s.View(func(tx *Tx) error { b, _ = tx.AlertShared("A-1"); return nil })
	if b.GetScore() != 0.9 || a.GetScore() != 0.5 {
		t.Fatalf("after an update: %v (earlier copy %v)", b.GetScore(), a.GetScore())
	}
}

// reportKeys lists the keys of the reports bucket.
func reportKeys(t *testing.T, s *Store) [][]byte {
	t.Helper()
	var keys [][]byte
	if err := s.View(func(tx *Tx) error {
		return tx.tx.Bucket(bucketReports).ForEach(func(k, _ []byte) error {
			keys = append(keys, bytes.Clone(k))
			return nil
		})
	}); err != nil {
		t.Fatal(err)
	}
	return keys
}

// Report keys stay unique without a counter every batch rewrites: a store
// reopened, and another store sharing the data, each take a writer number
// of their own, so reports received in the same nanosecond keep apart.
func TestReportKeysUniqueAcrossWriters(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir, Options{})
	at := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	for _, d := range []string{"d-1", "d-2", "d-3"} {
		addDevice(t, s, d)
	}
	if _, err := s.Ingest("d-1", []*pb.StoredReport{stored("d-1", 1, at)}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openTest(t, dir, Options{})
	defer s.Close()
	if _, err := s.Ingest("d-2", []*pb.StoredReport{stored("d-2", 1, at)}); err != nil {
		t.Fatal(err)
	}
	// A replay (IngestInOrder) writes with the same store's number.
	if res, err := s.IngestInOrder([]*pb.StoredReport{func() *pb.StoredReport {
		r := stored("d-3", 1, at)
		r.DeviceId = "d-3"
		return r
	}()}); err != nil || res.Stored != 1 {
		t.Fatalf("IngestInOrder: %+v, %v", res, err)
	}
	keys := reportKeys(t, s)
	if len(keys) != 3 {
		t.Fatalf("%d reports stored, want 3: reports received in the same nanosecond overwrote each other", len(keys))
	}
	writers := map[uint64]bool{}
	for _, k := range keys {
		word := binary.BigEndian.Uint64(k[8:])
		writers[word>>reportWordCountBits] = true
		if word>>reportWordCountBits == 0 {
			t.Fatalf("report key %x has no writer number", k)
		}
	}
	if len(writers) != 2 {
		t.Fatalf("writer numbers %v: want one per open store", writers)
	}
	// No batch reads or writes a shared counter any more.
	if err := s.View(func(tx *Tx) error {
		if v := tx.tx.Bucket(bucketMeta).Get(keyCounter); v != nil {
			t.Errorf("the meta bucket holds a report counter %x", v)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}
