package store

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/farmwatch/farmwatch/internal/agentlimits"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// eventLog is an Options.Event that keeps what it is handed.
type eventLog struct {
	mu     sync.Mutex
	events []IngestEvent
}

func (l *eventLog) record(_ *Tx, dev *pb.Device, ev IngestEvent) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	ev.Facts["device"] = dev.GetId()
	l.events = append(l.events, ev)
	return nil
}

func (l *eventLog) kinds() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, e := range l.events {
		out = append(out, e.Kind)
	}
	return out
}

func (l *eventLog) last() IngestEvent {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.events[len(l.events)-1]
}

var enrolledAt = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

// openEvents opens a store whose ingest events go to a log, with one device
// "d-1" enrolled at enrolledAt.
func openEvents(t *testing.T) (*Store, *eventLog) {
	t.Helper()
	log := &eventLog{}
	s := openTest(t, t.TempDir(), Options{Event: log.record})
	t.Cleanup(func() { s.Close() })
	if err := s.Update(func(tx *Tx) error {
		if err := tx.PutHire(&pb.Hire{Id: "h-1", Name: "N"}); err != nil {
			return err
		}
		return tx.PutDevice(&pb.Device{Id: "d-1", HireId: "h-1", EnrolledAt: timestamppb.New(enrolledAt)})
	}); err != nil {
		t.Fatal(err)
	}
	return s, log
}

// spooled is a report of spool epoch, taken and received at.
func spooled(epoch, seq uint64, at time.Time, host string) *pb.StoredReport {
	return &pb.StoredReport{Report: &pb.Report{Seq: seq, SpoolEpoch: epoch, CollectedAt: timestamppb.New(at),
		Host: &pb.Host{Hostname: host}}, ReceivedAt: timestamppb.New(at), PublicIp: "203.0.113.9"}
}

// resent is the agent's resend, received at, of the report spooled at taken.
func resent(epoch, seq uint64, taken, at time.Time, host string) *pb.StoredReport {
	sr := spooled(epoch, seq, taken, host)
	sr.ReceivedAt = timestamppb.New(at)
	return sr
}

func ingestOK(t *testing.T, s *Store, reports ...*pb.StoredReport) IngestResult {
	t.Helper()
	res, err := s.Ingest("d-1", reports)
	if err != nil {
		t.Fatalf("ingest: %v", err)
	}
	if len(res.Acknowledged) != len(reports) {
		t.Fatalf("ingest: %d acknowledged of %d", len(res.Acknowledged), len(reports))
	}
	return res
}

func device(t *testing.T, s *Store) *pb.Device {
	t.Helper()
	var d *pb.Device
	if err := s.View(func(tx *Tx) (err error) { d, err = tx.Device("d-1"); return err }); err != nil {
		t.Fatal(err)
	}
	return d
}

func deviceRecordBytes(t *testing.T, s *Store) []byte {
	t.Helper()
	var v []byte
	s.View(func(tx *Tx) error { v = tx.Get(bucketDevices, []byte("d-1")); return nil })
	return v
}

func TestSeqBound(t *testing.T) {
	t0 := enrolledAt
	spool := uint64(agentlimits.SpoolReports)
	tests := []struct {
		name      string
		high      uint64
		since, at time.Time
		want      uint64
	}{
		{"at once", 7, t0, t0, 7 + spool + 1},
		{"two per interval", 7, t0, t0.Add(10 * agentlimits.MinReportInterval), 7 + spool + 1 + 20},
		{"part of an interval counts nothing", 7, t0, t0.Add(agentlimits.MinReportInterval - 1), 7 + spool + 1},
		{"clock gone back", 7, t0, t0.Add(-time.Hour), 7 + spool + 1},
		{"saturates", math.MaxUint64 - 5, t0, t0, math.MaxUint64},
	}
	for _, tt := range tests {
		if got := seqBound(tt.high, tt.since, tt.at); got != tt.want {
			t.Errorf("%s: seqBound = %d, want %d", tt.name, got, tt.want)
		}
	}
}

// F1: one report with seq 2^64-1 must not be stored, nor count as the
// device's newest; a jump is refused at one past the bound and not at it, is
// recorded at most once an hour, and a refused call stores nothing of its
// batch.
func TestSeqJumpRefused(t *testing.T) {
	s, log := openEvents(t)
	const epoch = 0x5eed
	t1 := enrolledAt.Add(time.Hour)
	ingestOK(t, s, spooled(epoch, 1, t1, "a"), spooled(epoch, 2, t1, "a"), spooled(epoch, 3, t1, "a"))

	t2 := t1.Add(5 * time.Minute)
	bound := seqBound(4, t2, t2) // seq 4 before it in the batch counts as stored
	_, err := s.Ingest("d-1", []*pb.StoredReport{spooled(epoch, 4, t2, "a"), spooled(epoch, math.MaxUint64, t2, "a")})
	var jump *SeqJumpError
	if !errors.As(err, &jump) || jump.Seq != math.MaxUint64 || jump.Bound != bound || jump.HighSeq != 4 {
		t.Fatalf("seq 2^64-1: got %v, want a SeqJumpError with bound %d", err, bound)
	}
	for _, want := range []string{"seq 18446744073709551615", "beyond", "0000000000005eed"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if got := log.kinds(); len(got) != 1 || got[0] != EventSeqJump {
		t.Fatalf("events %v, want one seq_jump", got)
	}
	if ev := log.last(); ev.Facts["seq"] != "18446744073709551615" || !ev.At.Equal(t2) || ev.Text == "" {
		t.Errorf("seq_jump event %+v", ev)
	}
	s.View(func(tx *Tx) error {
		if tx.HasSpoolReport("d-1", epoch, 4) || tx.HasSpoolReport("d-1", epoch, math.MaxUint64) {
			t.Error("a refused batch stored a report")
		}
		return nil
	})
	if d := device(t, s); d.GetLastSeq() != 3 || d.GetReports() != 3 {
		t.Errorf("after the refusal: last seq %d, %d reports; want 3 and 3", d.GetLastSeq(), d.GetReports())
	}

	// Within the hour: refused again, nothing recorded, nothing written.
	before := deviceRecordBytes(t, s)
	for i := range 5 {
		at := t2.Add(time.Duration(i+1) * time.Minute)
		if _, err := s.Ingest("d-1", []*pb.StoredReport{spooled(epoch, math.MaxUint64-uint64(i), at, "a")}); !errors.As(err, &jump) {
			t.Fatalf("repeat %d: %v", i, err)
		}
	}
	if got := log.kinds(); len(got) != 1 {
		t.Errorf("repeated jumps within an hour recorded %v", got)
	}
	if !bytes.Equal(before, deviceRecordBytes(t, s)) {
		t.Error("a refusal within the hour rewrote the device record")
	}

	// The bound itself is accepted, one past it refused.
	t3 := t2.Add(2 * time.Hour)
	bound = seqBound(3, t1, t3)
	if _, err := s.Ingest("d-1", []*pb.StoredReport{spooled(epoch, bound+1, t3, "a")}); !errors.As(err, &jump) || jump.Bound != bound {
		t.Fatalf("one past the bound: %v", err)
	}
	if got := log.kinds(); len(got) != 2 || got[1] != EventSeqJump {
		t.Errorf("a jump an hour later: events %v, want a second seq_jump", got)
	}
	ingestOK(t, s, spooled(epoch, bound, t3, "a"))

	// A new epoch may start no further than a full spool plus what the
	// device could have taken since it enrolled.
	newBound := seqBound(0, enrolledAt, t3)
	if _, err := s.Ingest("d-1", []*pb.StoredReport{spooled(0xbeef, newBound+1, t3, "a")}); !errors.As(err, &jump) || jump.Bound != newBound {
		t.Fatalf("a new epoch past its bound: %v", err)
	}
	if d := device(t, s); d.GetLastSeq() != bound || d.GetSpoolEpoch() != epoch || d.GetSpoolGenerations() != 1 {
		t.Errorf("device after the refused new epoch: last seq %d, epoch %x, %d spools", d.GetLastSeq(), d.GetSpoolEpoch(), d.GetSpoolGenerations())
	}
}

// A lost spool starts again at seq 1 under a new epoch: its reports are
// stored as new, not acknowledged as duplicates of the old spool's, and the
// reset is recorded once.
func TestSpoolResetStoresNewSequence(t *testing.T) {
	s, log := openEvents(t)
	t1 := enrolledAt.Add(time.Hour)
	ingestOK(t, s, spooled(0xa, 1, t1, "a"), spooled(0xa, 2, t1, "a"), spooled(0xa, 3, t1.Add(time.Minute), "a"))

	t2 := t1.Add(time.Hour)
	res := ingestOK(t, s, spooled(0xb, 1, t2, "a"), spooled(0xb, 2, t2.Add(time.Second), "a"))
	if len(res.Duplicates) != 0 {
		t.Fatalf("the new spool's reports were taken as duplicates: %v", res.Duplicates)
	}
	res = ingestOK(t, s, spooled(0xb, 3, t2.Add(time.Minute), "a"), resent(0xb, 1, t2, t2.Add(time.Minute), "a"))
	if len(res.Duplicates) != 1 || res.Duplicates[0] != 1 {
		t.Fatalf("a resend of the new spool's seq 1: duplicates %v", res.Duplicates)
	}
	if got := log.kinds(); len(got) != 1 || got[0] != EventSpoolReset {
		t.Fatalf("events %v, want one spool_reset", got)
	}
	ev := log.last()
	if ev.Facts["spool_epoch"] != "000000000000000b" || ev.Facts["previous_spool_epoch"] != "000000000000000a" ||
		ev.Facts["previous_highest_seq"] != "3" || !ev.At.Equal(t2) || !strings.Contains(ev.Text, "2nd") {
		t.Errorf("spool_reset event %+v", ev)
	}
	d := device(t, s)
	if d.GetSpoolEpoch() != 0xb || d.GetLastSeq() != 3 || d.GetSpoolGenerations() != 2 || d.GetReports() != 6 {
		t.Errorf("device: epoch %x, last seq %d, %d spools, %d reports; want b, 3, 2, 6",
			d.GetSpoolEpoch(), d.GetLastSeq(), d.GetSpoolGenerations(), d.GetReports())
	}
	s.View(func(tx *Tx) error {
		rs, err := tx.Reports("d-1", 100)
		if err != nil {
			return err
		}
		var got []uint64
		for _, r := range rs {
			got = append(got, r.GetReport().GetSpoolEpoch()<<8|r.GetReport().GetSeq())
		}
		want := []uint64{0xb03, 0xb02, 0xb01, 0xa03, 0xa02, 0xa01}
		if len(got) != len(want) {
			t.Fatalf("reports (epoch<<8|seq) %x, want %x", got, want)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("reports (epoch<<8|seq) %x, want %x", got, want)
			}
		}
		if !tx.HasReport("d-1", 3) || tx.HasReport("d-1", 4) || !tx.HasSpoolReport("d-1", 0xa, 3) || tx.HasSpoolReport("d-1", 0xc, 1) {
			t.Error("HasReport and HasSpoolReport")
		}
		return nil
	})
}

// An agent that predates epochs, upgraded: the reports it spooled before go
// without an epoch, the new ones under its first epoch, seq going on. That
// is no reset; a new spool beside it, starting again at 1, is one.
func TestUpgradedAgentIsNoReset(t *testing.T) {
	s, log := openEvents(t)
	t1 := enrolledAt.Add(time.Hour)
	ingestOK(t, s, spooled(0, 1, t1, "a"), spooled(0, 2, t1, "a"), spooled(0xa, 3, t1, "a"))
	if got := log.kinds(); len(got) != 0 {
		t.Fatalf("an upgrade recorded %v", got)
	}
	res := ingestOK(t, s, resent(0, 2, t1, t1.Add(time.Minute), "a"), resent(0xa, 3, t1, t1.Add(time.Minute), "a"))
	if len(res.Duplicates) != 2 {
		t.Errorf("resends across the upgrade: duplicates %v, want both", res.Duplicates)
	}
	if d := device(t, s); d.GetSpoolEpoch() != 0xa || d.GetLastSeq() != 3 || d.GetSpoolGenerations() != 1 {
		t.Errorf("device: epoch %x, last seq %d, %d spools; want a, 3, one spool", d.GetSpoolEpoch(), d.GetLastSeq(), d.GetSpoolGenerations())
	}
	ingestOK(t, s, spooled(0xb, 1, t1.Add(time.Hour), "a"))
	if got := log.kinds(); len(got) != 1 || got[0] != EventSpoolReset {
		t.Errorf("a new spool after the upgrade: events %v, want one spool_reset", got)
	}
	if d := device(t, s); d.GetSpoolGenerations() != 2 {
		t.Errorf("after a new spool: %d spools, want 2", d.GetSpoolGenerations())
	}
}

// Two machines with one identity, each with its own spool, take turns: all
// their reports are stored, and each report under the older epoch is a
// cloned identity, recorded at most once an hour. A duplicate whose
// contents differ is one too, and is still acknowledged.
func TestClonedIdentity(t *testing.T) {
	s, log := openEvents(t)
	t1 := enrolledAt.Add(time.Hour)
	at := func(m int) time.Time { return t1.Add(time.Duration(m) * time.Minute) }
	ingestOK(t, s, spooled(0xa, 1, at(0), "first"))
	ingestOK(t, s, spooled(0xb, 1, at(1), "second"))
	ingestOK(t, s, spooled(0xa, 2, at(2), "first"))
	ingestOK(t, s, spooled(0xb, 2, at(3), "second"))
	ingestOK(t, s, spooled(0xa, 3, at(4), "first"))
	if got := log.kinds(); len(got) != 2 || got[0] != EventSpoolReset || got[1] != EventClonedIdentity {
		t.Fatalf("events %v, want spool_reset then one cloned_identity", got)
	}
	if ev := log.last(); ev.Facts["spool_epoch"] != "000000000000000a" || ev.Facts["newest_spool_epoch"] != "000000000000000b" || !ev.At.Equal(at(2)) {
		t.Errorf("cloned_identity event %+v", ev)
	}
	ingestOK(t, s, spooled(0xa, 4, at(62), "first"))
	if got := log.kinds(); len(got) != 3 || got[2] != EventClonedIdentity {
		t.Fatalf("an hour later: events %v, want a second cloned_identity", got)
	}
	s.View(func(tx *Tx) error {
		rs, err := tx.Reports("d-1", 100)
		if err != nil {
			return err
		}
		var hosts []string
		for _, r := range rs {
			hosts = append(hosts, r.GetReport().GetHost().GetHostname())
		}
		if got := strings.Join(hosts, " "); got != "first first second first second first" {
			t.Errorf("reports newest first by arrival: %s", got)
		}
		return nil
	})

	// The same (epoch, seq) from a machine with a copy of the spool.
	res := ingestOK(t, s, spooled(0xb, 2, at(130), "third"))
	if len(res.Duplicates) != 1 {
		t.Fatalf("a differing duplicate: %+v, want it acknowledged as a duplicate", res)
	}
	if got := log.kinds(); len(got) != 4 || got[3] != EventClonedIdentity {
		t.Fatalf("a differing duplicate: events %v, want a cloned_identity", got)
	}
	if ev := log.last(); ev.Facts["seq"] != "2" || ev.Facts["spool_epoch"] != "000000000000000b" || !strings.Contains(ev.Text, "different contents") {
		t.Errorf("cloned_identity event %+v", ev)
	}
	// The agent's own resend is the very report it spooled: no event.
	if res := ingestOK(t, s, resent(0xb, 2, at(3), at(200), "second")); len(res.Duplicates) != 1 {
		t.Fatalf("an identical resend: %+v", res)
	}
	if got := log.kinds(); len(got) != 4 {
		t.Errorf("an identical resend recorded %v", got[4:])
	}
	if d := device(t, s); d.GetReports() != 6 || d.GetSpoolEpoch() != 0xb || d.GetLastSeq() != 2 || d.GetSpoolGenerations() != 2 {
		t.Errorf("device: %d reports, epoch %x, last seq %d, %d spools", d.GetReports(), d.GetSpoolEpoch(), d.GetLastSeq(), d.GetSpoolGenerations())
	}
}

// A device that makes up a spool per report costs a bounded ledger; a
// forgotten epoch that comes back is taken as a new spool.
func TestSpoolLedgerBounded(t *testing.T) {
	s, log := openEvents(t)
	t1 := enrolledAt.Add(time.Hour)
	const spools = maxReportGenerations + maxSpoolEpochs
	for i := range spools {
		ingestOK(t, s, spooled(uint64(0x100+i), 1, t1.Add(time.Duration(i)*time.Second), "a"))
	}
	if n := len(log.kinds()); n != spools-1 {
		t.Errorf("%d events for %d spools, want a reset for each but the first", n, spools)
	}
	s.View(func(tx *Tx) error {
		l, err := tx.spoolLedger("d-1")
		if err != nil {
			return err
		}
		if len(l.epochs) != maxSpoolEpochs || l.seen != spools || l.lastGen != spools {
			t.Errorf("ledger holds %d epochs, seen %d, last generation %d", len(l.epochs), l.seen, l.lastGen)
		}
		if rs, _ := tx.Reports("d-1", 1000); len(rs) != maxReportGenerations {
			t.Errorf("Reports merged %d generations, want the newest %d", len(rs), maxReportGenerations)
		}
		return nil
	})
	// The first epoch was forgotten: its seq 1 is stored again, as a new spool's.
	res := ingestOK(t, s, spooled(0x100, 1, t1.Add(time.Hour), "a"))
	if len(res.Duplicates) != 0 {
		t.Errorf("a forgotten epoch's report: %+v", res)
	}
}

func TestSpoolLedgerRoundTrip(t *testing.T) {
	l := &spoolLedger{lastGen: 2, seen: 3, jumpEventAt: 1_800_000_000, cloneEventAt: 1_800_000_100, epochs: []spoolEpoch{
		{epoch: 0, gen: 0, highSeq: 12, highAt: 1_700_000_000_000_000_000},
		{epoch: math.MaxUint64, gen: 2, highSeq: math.MaxUint64, highAt: 1_800_000_000_000_000_000},
	}}
	got, err := decodeSpoolLedger(l.encode())
	if err != nil {
		t.Fatal(err)
	}
	if got.lastGen != l.lastGen || got.seen != l.seen || got.jumpEventAt != l.jumpEventAt || got.cloneEventAt != l.cloneEventAt ||
		len(got.epochs) != 2 || got.epochs[0] != l.epochs[0] || got.epochs[1] != l.epochs[1] {
		t.Errorf("round trip: %+v, want %+v", got, l)
	}
	if _, err := decodeSpoolLedger([]byte{0x0a, 0x05, 0x09}); err == nil {
		t.Error("a truncated ledger decoded")
	}
}

// BenchmarkSpoolLedger is what the sequence checks add to the writer for an
// honest device's report: read its one-epoch ledger, check the seq, note
// the report, write the ledger back.
//
//	go test -run '^$' -bench SpoolLedger -benchmem ./collector/store/
func BenchmarkSpoolLedger(b *testing.B) {
	at := enrolledAt.Add(time.Hour)
	l := &spoolLedger{seen: 1, lastGen: 1, epochs: []spoolEpoch{{epoch: 0x5eed, gen: 1, highSeq: 41, highAt: at.UnixNano()}}}
	raw := l.encode()
	dev := &pb.Device{Id: "d-1", EnrolledAt: timestamppb.New(enrolledAt)}
	sr := []*pb.StoredReport{spooled(0x5eed, 42, at.Add(5*time.Minute), "a")}
	b.ReportAllocs()
	for b.Loop() {
		l, err := decodeSpoolLedger(raw)
		if err != nil {
			b.Fatal(err)
		}
		if jump := l.firstSeqJump(dev, sr); jump != nil {
			b.Fatal(jump)
		}
		e := l.find(0x5eed)
		e.stored(42, at)
		l.describe(dev)
		if l.newest().gen != 1 || len(l.encode()) == 0 {
			b.Fatal("ledger")
		}
	}
}
