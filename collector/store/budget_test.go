package store

import (
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// padded is a report with a hostname of n random letters, which compression
// cannot shrink much.
func padded(dev string, seq uint64, at time.Time, n int) *pb.StoredReport {
	sr := stored(dev, seq, at)
	rng := rand.New(rand.NewPCG(seq, 7))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('a' + rng.IntN(26))
	}
	sr.Report.Host.Hostname = string(b)
	return sr
}

func TestDailyBudget(t *testing.T) {
	const budget = 20_000
	var events []IngestEvent
	s := openTest(t, t.TempDir(), Options{DailyBudget: budget, Event: func(_ *Tx, _ *pb.Device, ev IngestEvent) error {
		events = append(events, ev)
		return nil
	}})
	defer s.Close()
	addDevice(t, s, "d-1")
	day1 := time.Date(2026, 11, 30, 22, 0, 0, 0, time.UTC)
	device := func() *pb.Device {
		var d *pb.Device
		if err := s.View(func(tx *Tx) (err error) { d, err = tx.Device("d-1"); return }); err != nil {
			t.Fatal(err)
		}
		return d
	}
	count := func() (n int) {
		s.View(func(tx *Tx) error { n = tx.ReportCount(); return nil })
		return n
	}

	// Honest reports are taken until the next one would reach the budget.
	var used int64
	seq := uint64(0)
	for {
		seq++
		sr := padded("d-1", seq, day1, 2000)
		v, err := EncodeReport(sr)
		if err != nil {
			t.Fatal(err)
		}
		size := storedSize("d-1", v)
		res, err := s.Ingest("d-1", []*pb.StoredReport{sr})
		if used+size < budget {
			if err != nil || len(res.Acknowledged) != 1 {
				t.Fatalf("report %d (%d of %d bytes used): %v %v", seq, used, budget, res, err)
			}
			used += size
			continue
		}
		var over *OverBudgetError
		if !errors.As(err, &over) {
			t.Fatalf("report %d over the budget: got %v, %v", seq, res, err)
		}
		if over.Budget != budget || over.Day != "2026-11-30" || !over.ResetAt.Equal(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)) {
			t.Errorf("refusal %+v", over)
		}
		break
	}
	kept := count()
	if kept < 5 {
		t.Fatalf("only %d reports fit a budget of %d bytes: the test's reports are too big", kept, budget)
	}
	d := device()
	if d.GetBudgetDay() != "2026-11-30" || d.GetBudgetBytes() != budget || d.GetRefusedOverBudget() != 1 || d.GetReports() != uint64(kept) {
		t.Errorf("device budget %s %d, refused %d, reports %d; want 2026-11-30, the budget, 1, %d",
			d.GetBudgetDay(), d.GetBudgetBytes(), d.GetRefusedOverBudget(), d.GetReports(), kept)
	}
	if len(events) != 1 || events[0].Kind != EventOverBudget || events[0].Facts["day"] != "2026-11-30" {
		t.Fatalf("events %+v, want one over-budget event", events)
	}

	// The day is closed: even a small report is refused, counted, and no
	// second event is written.
	if _, err := s.Ingest("d-1", []*pb.StoredReport{stored("d-1", seq+1, day1.Add(time.Hour))}); err == nil {
		t.Fatal("a small report was taken after the day closed")
	}
	// A batch with a duplicate (the agent resending report 1 as it was) and a
	// new report: the duplicate is acknowledged so the agent drops it, the
	// new one is not.
	res, err := s.Ingest("d-1", []*pb.StoredReport{padded("d-1", 1, day1, 2000), stored("d-1", seq+1, day1.Add(time.Hour))})
	if err != nil || len(res.Acknowledged) != 1 || res.Acknowledged[0] != 1 {
		t.Fatalf("duplicate and new report: %v %v", res, err)
	}
	if d := device(); d.GetRefusedOverBudget() != 3 || count() != kept || len(events) != 1 {
		t.Errorf("refused %d, stored %d, events %d; want 3, %d, 1", d.GetRefusedOverBudget(), count(), len(events), kept)
	}

	// The next UTC day starts a new budget.
	day2 := time.Date(2026, 12, 1, 0, 0, 1, 0, time.UTC)
	if res, err := s.Ingest("d-1", []*pb.StoredReport{stored("d-1", seq+1, day2)}); err != nil || len(res.Acknowledged) != 1 {
		t.Fatalf("first report of the next day: %v %v", res, err)
	}
	if d := device(); d.GetBudgetDay() != "2026-12-01" || d.GetBudgetBytes() == 0 || d.GetBudgetBytes() >= budget {
		t.Errorf("device budget %s %d after a new day", d.GetBudgetDay(), d.GetBudgetBytes())
	}
}

// In a batch, reports are stored in order while they fit; the rest wait.
func TestDailyBudgetPartialBatch(t *testing.T) {
	s := openTest(t, t.TempDir(), Options{DailyBudget: 10_000})
	defer s.Close()
	addDevice(t, s, "d-1")
	at := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	var batch []*pb.StoredReport
	for seq := uint64(1); seq <= 10; seq++ {
		batch = append(batch, padded("d-1", seq, at, 2000))
	}
	res, err := s.Ingest("d-1", batch)
	if err != nil {
		t.Fatal(err)
	}
	n := len(res.Acknowledged)
	if n == 0 || n == 10 {
		t.Fatalf("%d of 10 reports acknowledged, want some", n)
	}
	for i, q := range res.Acknowledged {
		if q != uint64(i+1) {
			t.Fatalf("acknowledged %v: not the first %d in order", res.Acknowledged, n)
		}
	}
	var d *pb.Device
	s.View(func(tx *Tx) (err error) { d, err = tx.Device("d-1"); return })
	if d.GetRefusedOverBudget() != uint64(10-n) {
		t.Errorf("refused %d, want %d", d.GetRefusedOverBudget(), 10-n)
	}
}

// BenchmarkBudgetCheck is what the daily budget adds to each ingest job in
// the writer: the day of the receive time, the day check and the charge.
//
//	go test -run '^$' -bench BudgetCheck ./collector/store/
func BenchmarkBudgetCheck(b *testing.B) {
	dev := &pb.Device{Id: "d-0123456789abcdef", BudgetDay: budgetDay(time.Now())}
	at := time.Now()
	value := make([]byte, 600)
	b.ReportAllocs()
	for n := 0; n < b.N; n++ {
		if dev.BudgetBytes > 1<<39 {
			dev.BudgetBytes = 0
		}
		budget := openBudget(1<<40, dev, at)
		if !budget.fits(storedSize(dev.Id, value)) {
			b.Fatal("refused")
		}
	}
}
