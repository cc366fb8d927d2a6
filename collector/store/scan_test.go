package store

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

type arrival struct {
	dev string
	seq uint64
}

func arrivals(reports []*pb.StoredReport) []arrival {
	out := make([]arrival, 0, len(reports))
	for _, r := range reports {
		out = append(out, arrival{r.GetDeviceId(), r.GetReport().GetSeq()})
	}
	return out
}

func TestScanReportsInArrivalOrder(t *testing.T) {
	s := openTest(t, t.TempDir(), Options{})
	defer s.Close()
	ctx := context.Background()
	if _, _, ok, err := s.ReportSpan(time.Time{}, time.Time{}); ok || err != nil {
		t.Fatalf("span of an empty store: ok %v, %v", ok, err)
	}
	for _, d := range []string{"d-1", "d-2", "d-3"} {
		addDevice(t, s, d)
	}
	t0 := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	// Stored in this order; d-2's report arrived (was received) first, and
	// the two at t0+1h arrived in the order they were stored.
	for _, in := range []struct {
		dev string
		seq uint64
		at  time.Duration
	}{{"d-1", 1, time.Hour}, {"d-2", 1, 0}, {"d-3", 1, time.Hour}, {"d-1", 2, 2 * time.Hour}, {"d-2", 2, 3 * time.Hour}} {
		if _, err := s.Ingest(in.dev, []*pb.StoredReport{stored(in.dev, in.seq, t0.Add(in.at))}); err != nil {
			t.Fatal(err)
		}
	}
	want := []arrival{{"d-2", 1}, {"d-1", 1}, {"d-3", 1}, {"d-1", 2}, {"d-2", 2}}
	for _, tc := range []struct {
		name         string
		since, until time.Time
		want         []arrival
	}{
		{"all", time.Time{}, time.Time{}, want},
		{"since", t0.Add(time.Hour), time.Time{}, want[1:]},
		{"until is exclusive", time.Time{}, t0.Add(2 * time.Hour), want[:3]},
		{"between", t0.Add(time.Minute), t0.Add(2*time.Hour + time.Nanosecond), want[1:4]},
		{"none", t0.Add(4 * time.Hour), time.Time{}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []arrival
			var chunks []int
			err := s.ScanReports(ctx, tc.since, tc.until, 2, func(b []*pb.StoredReport) error {
				chunks = append(chunks, len(b))
				got = append(got, arrivals(b)...)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("scanned %v, want %v", got, tc.want)
			}
			for _, n := range chunks {
				if n > 2 {
					t.Fatalf("chunks %v: more than 2 reports in one", chunks)
				}
			}
			first, last, ok, err := s.ReportSpan(tc.since, tc.until)
			if err != nil || ok != (len(tc.want) > 0) {
				t.Fatalf("span: ok %v, %v", ok, err)
			}
			if ok {
				at := map[arrival]time.Duration{{"d-2", 1}: 0, {"d-1", 1}: time.Hour, {"d-3", 1}: time.Hour, {"d-1", 2}: 2 * time.Hour, {"d-2", 2}: 3 * time.Hour}
				if !first.Equal(t0.Add(at[tc.want[0]])) || !last.Equal(t0.Add(at[tc.want[len(tc.want)-1]])) {
					t.Fatalf("span %s - %s", first, last)
				}
			}
		})
	}

	stop := errors.New("stop")
	n := 0
	if err := s.ScanReports(ctx, time.Time{}, time.Time{}, 2, func(b []*pb.StoredReport) error { n += len(b); return stop }); err != stop || n != 2 {
		t.Fatalf("fn's error: got %v after %d reports", err, n)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := s.ScanReports(cancelled, time.Time{}, time.Time{}, 2, func([]*pb.StoredReport) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled scan: %v", err)
	}
}

// TestScanReportsLetsIngestGrowTheFile checks that no read transaction is
// open while a chunk is handed over: a commit that grows the bbolt file
// must remap it, and waits for every open read transaction to end, so
// ingest called from inside the scan would never finish if the scan held
// one. Reports stored meanwhile, after the scan's position, are scanned too.
func TestScanReportsLetsIngestGrowTheFile(t *testing.T) {
	requireBolt(t)
	s := openTest(t, t.TempDir(), Options{})
	defer s.Close()
	addDevice(t, s, "d-1")
	addDevice(t, s, "d-2")
	t0 := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	for seq := uint64(1); seq <= 4; seq++ {
		if _, err := s.Ingest("d-1", []*pb.StoredReport{stored("d-1", seq, t0.Add(time.Duration(seq)*time.Minute))}); err != nil {
			t.Fatal(err)
		}
	}
	sizeBefore := fileSize(t, s)
	grown := false
	seen := 0
	err := s.ScanReports(context.Background(), time.Time{}, time.Time{}, 2, func(b []*pb.StoredReport) error {
		seen += len(b)
		if grown {
			return nil
		}
		grown = true
		// About 8 MB of reports that do not compress: the file must grow
		// and be remapped several times.
		rng := rand.New(rand.NewPCG(1, 2))
		batch := make([]*pb.StoredReport, 0, 2000)
		for i := range 2000 {
			sr := stored("d-2", uint64(i+1), t0.Add(time.Hour))
			noise := make([]byte, 2000)
			for j := range noise {
				noise[j] = byte(rng.Uint32())
			}
			sr.Report.Host.Hostname = hex.EncodeToString(noise)
			batch = append(batch, sr)
		}
		done := make(chan error, 1)
		go func() { _, err := s.Ingest("d-2", batch); done <- err }()
		select {
		case err := <-done:
			return err
		case <-time.After(60 * time.Second):
			return errors.New("ingest did not finish within 60 s while the scan handed over a chunk: the scan holds a read transaction")
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if size := fileSize(t, s); size <= sizeBefore {
		t.Fatalf("file did not grow (%d -> %d bytes): the test proves nothing", sizeBefore, size)
	}
	if seen != 4+2000 {
		t.Fatalf("scanned %d reports, want the 4 stored before and the 2000 stored during the scan", seen)
	}
}

func fileSize(t *testing.T, s *Store) int64 {
	t.Helper()
	var n int64
	if err := s.bolt.View(func(tx *bolt.Tx) error { n = tx.Size(); return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestIngestInOrderKeepsTheOrderAcrossDevices(t *testing.T) {
	var analysed []arrival
	s := openTest(t, t.TempDir(), Options{Analyze: func(tx *Tx, dev *pb.Device, sr *pb.StoredReport) error {
		analysed = append(analysed, arrival{dev.GetId(), sr.GetReport().GetSeq()})
		return nil
	}})
	defer s.Close()
	addDevice(t, s, "d-1")
	addDevice(t, s, "d-2")
	t0 := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	in := []*pb.StoredReport{stored("d-1", 1, t0), stored("d-2", 1, t0), stored("d-2", 2, t0.Add(time.Minute)),
		stored("d-1", 2, t0.Add(time.Minute)), stored("d-gone", 1, t0.Add(time.Minute)), stored("d-1", 2, t0.Add(2*time.Minute))}
	for _, sr := range in {
		sr.DeviceId = strings.TrimSuffix(sr.GetReport().GetHost().GetHostname(), "-host")
	}
	res, err := s.IngestInOrder(in)
	if err != nil {
		t.Fatal(err)
	}
	if res.Stored != 4 || res.Duplicates != 1 || res.Refused != 1 || !errors.Is(res.Refusals["d-gone"], ErrNotFound) {
		t.Fatalf("result %+v: want 4 stored, the repeated d-1 seq 2 a duplicate, d-gone's report refused", res)
	}
	want := []arrival{{"d-1", 1}, {"d-2", 1}, {"d-2", 2}, {"d-1", 2}}
	if fmt.Sprint(analysed) != fmt.Sprint(want) {
		t.Fatalf("analysed %v, want %v", analysed, want)
	}
	var got []arrival
	if err := s.ScanReports(context.Background(), time.Time{}, time.Time{}, 0, func(b []*pb.StoredReport) error {
		got = append(got, arrivals(b)...)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("stored %v, want %v", got, want)
	}
	var dev *pb.Device
	s.View(func(tx *Tx) (err error) { dev, err = tx.Device("d-1"); return })
	if dev.GetReports() != 2 || !dev.GetLastSeen().AsTime().Equal(t0.Add(time.Minute)) {
		t.Fatalf("device record after replay: %d reports, last seen %s", dev.GetReports(), dev.GetLastSeen().AsTime())
	}
}
