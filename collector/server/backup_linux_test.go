package server_test

import (
	"context"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/farmwatch/farmwatch/agent/uplink"
	"github.com/farmwatch/farmwatch/collector/server"
	"github.com/farmwatch/farmwatch/internal/procmaps"
	"github.com/farmwatch/farmwatch/internal/testcollector"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
	"github.com/farmwatch/farmwatch/sim"
)

// mappedBytes is how much of the address space maps the store's file: the
// test collector runs in this process.
func mappedBytes(t *testing.T, path string) int64 {
	t.Helper()
	n, err := procmaps.MappedBytes(path)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// loadFleet enrolls the devices of a simulated fleet over real mutual TLS.
type loadFleet struct {
	fleet *sim.Fleet
	ids   []*uplink.Identity
	conns []*uplink.Conn
}

func enrollFleet(t *testing.T, c *testcollector.Collector, n int) *loadFleet {
	t.Helper()
	ctx := context.Background()
	lf := &loadFleet{fleet: sim.Plan(n, 14)}
	var hires []*pb.Hire
	for _, d := range lf.fleet.Devices {
		hires = append(hires, d.Hire)
	}
	if _, err := c.Admin.AddHires(ctx, &pb.AddHiresRequest{Hires: hires}); err != nil {
		t.Fatal(err)
	}
	for _, d := range lf.fleet.Devices {
		tok, err := c.Admin.CreateToken(ctx, &pb.CreateTokenRequest{HireId: d.Hire.GetId()})
		if err != nil {
			t.Fatal(err)
		}
		id, _, err := uplink.Enroll(ctx, uplink.EnrollOptions{Collector: c.Addr(), Token: tok.GetToken(), Hostname: d.Hostname, OS: d.OS})
		if err != nil {
			t.Fatal(err)
		}
		conn, err := uplink.Dial(id)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		lf.ids, lf.conns = append(lf.ids, id), append(lf.conns, conn)
	}
	return lf
}

// pausedBackup starts a backup over the admin API, takes its first chunk and
// then reads nothing more until cancelled.
func pausedBackup(t *testing.T, admin pb.AdminServiceClient) (size uint64, cancel func()) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithCancel(context.Background())
		stream, err := admin.Backup(ctx, &pb.BackupRequest{})
		if err == nil {
			var first *pb.BackupChunk
			if first, err = stream.Recv(); err == nil {
				return first.GetSize(), cancel
			}
		}
		cancel()
		// The previous paused backup ends asynchronously once cancelled.
		if status.Code(err) != codes.ResourceExhausted || time.Now().After(deadline) {
			t.Fatalf("start a backup: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// loadedCollector is a test collector under a steady load: its agents send
// batches of reports back to back until the test ends.
type loadedCollector struct {
	*testcollector.Collector
	backup pb.AdminServiceClient
	fleet  *loadFleet
	agents int
	acked  atomic.Int64
	failed chan error
}

func startLoaded(t *testing.T, agents, batch int) *loadedCollector {
	t.Helper()
	lc := &loadedCollector{agents: agents, failed: make(chan error, agents)}
	lc.Collector = testcollector.Start(t, func(cfg *server.Config) {
		// bbolt's own map growth, doubling from 32 KiB: remaps happen during
		// the run, as they do in a store that outgrew its initial map.
		cfg.Store.InitialMmapSize = -1
		cfg.RateLimits = server.DefaultRateLimits()
		cfg.RateLimits.DeviceRate, cfg.RateLimits.DeviceBurst = 1e6, 1e6
	})
	lc.backup = backupReviewer(t, lc.Collector)
	// Two more devices than agents: they are revoked during the test.
	lc.fleet = enrollFleet(t, lc.Collector, agents+2)
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for i := range agents {
		d, conn := lc.fleet.fleet.Devices[i], lc.fleet.conns[i]
		wg.Go(func() {
			for seq := uint64(1); ctx.Err() == nil; {
				reports := make([]*pb.Report, batch)
				for j := range reports {
					reports[j] = d.Report(seq, time.Now(), 0)
					seq++
				}
				resp, err := conn.Send(ctx, reports)
				if err != nil {
					if ctx.Err() == nil {
						lc.failed <- err
					}
					return
				}
				lc.acked.Add(int64(len(resp.GetAcknowledged())))
			}
		})
	}
	// Registered after the collector's own cleanup, so it runs first.
	t.Cleanup(func() { stop(); wg.Wait() })
	return lc
}

// dataSize is the size of the store's data, what bbolt maps.
func (lc *loadedCollector) dataSize(t *testing.T) int64 {
	t.Helper()
	var n int64
	if err := lc.Store().DB().View(func(tx *bolt.Tx) error { n = tx.Size(); return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

func (lc *loadedCollector) fileSize(t *testing.T) int64 {
	t.Helper()
	st, err := os.Stat(lc.Store().Path())
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

// TestPausedBackupDoesNotStallIngest: a backup client that takes the first
// chunk and then stops reading must neither slow ingest down nor hold up a
// revocation, even while bbolt grows its file and memory map. Two identical
// collectors run side by side under the same load, so whatever else the
// machine does slows both alike; in each round one of them has a paused
// backup reader, and the round lasts until that one has grown its map. The
// two counts of acknowledged reports are compared round by round.
func TestPausedBackupDoesNotStallIngest(t *testing.T) {
	testcollector.SkipOnPostgres(t, "the admin API's backup streams a copy of the bbolt file; a PostgreSQL store is backed up with pg_dump or base backups")
	if testing.Short() {
		t.Skip("a load test")
	}
	const agents, batch = 4, 20
	cols := []*loadedCollector{startLoaded(t, agents, batch), startLoaded(t, agents, batch)}

	// A round lasts until the collector with the paused reader has grown its
	// map, and the other has acknowledged enough reports for a count to mean
	// something on a busy machine.
	const rounds, minRound, maxRound, minReports = 4, 3 * time.Second, 90 * time.Second, 600
	var sumP, sumU int64
	var revokeTook []time.Duration
	var revokeErrs []error
	for round := range rounds {
		p, u := cols[round%2], cols[1-round%2]
		path := p.Store().Path()
		// The round starts when the store has filled most of its map, so
		// that it must grow the map soon, and is well past what the paused
		// client's flow-control window holds, so that such a reader keeps
		// the server waiting.
		var stopBackup func()
		var backupSize uint64
		var map0 int64
		for wait := time.Now(); ; time.Sleep(20 * time.Millisecond) {
			if time.Since(wait) > 3*time.Minute {
				t.Fatalf("round %d: the store did not fill its map in 3 minutes of load", round)
			}
			map0 = mappedBytes(t, path)
			if size := p.dataSize(t); size < 3<<20 || size < map0*7/10 {
				continue
			}
			backupSize, stopBackup = pausedBackup(t, p.backup)
			if mappedBytes(t, path) == map0 {
				break
			}
			stopBackup() // the map grew while the backup started: wait for the next growth
		}
		file0, p0, u0, start := p.fileSize(t), p.acked.Load(), u.acked.Load(), time.Now()
		remapped := false
		for {
			time.Sleep(20 * time.Millisecond)
			remapped = remapped || mappedBytes(t, path) != map0
			elapsed := time.Since(start)
			if remapped && elapsed >= minRound && u.acked.Load()-u0 >= minReports || elapsed >= maxRound {
				break
			}
		}
		// A revocation while the reader is still paused.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		t0 := time.Now()
		_, err := p.Admin.RevokeDevice(ctx, &pb.RevokeDeviceRequest{Id: p.fleet.ids[agents+round/2].DeviceID, Note: "laptop returned"})
		took := time.Since(t0)
		cancel()
		revokeTook, revokeErrs = append(revokeTook, took), append(revokeErrs, err)

		elapsed, np, nu := time.Since(start), p.acked.Load()-p0, u.acked.Load()-u0
		sumP, sumU = sumP+np, sumU+nu
		t.Logf("round %d (%.1fs): with the paused reader %5d reports (file %d -> %d bytes, map %d -> %d, backup of %d), without %5d: %.0f%%; revocation %s",
			round, elapsed.Seconds(), np, file0, p.fileSize(t), map0, mappedBytes(t, path), backupSize, nu, 100*float64(np)/float64(max(nu, 1)), took.Round(time.Millisecond))
		stopBackup()
		if !remapped {
			t.Errorf("round %d: bbolt did not grow its map within %s while the reader was paused", round, maxRound)
		}
	}
	for _, lc := range cols {
		select {
		case err := <-lc.failed:
			t.Fatalf("an ingest call failed: %v", err)
		default:
		}
	}
	ratio := float64(sumP) / float64(max(sumU, 1))
	t.Logf("over %d rounds, the collector with a paused backup reader acknowledged %d reports, the other %d (%.0f%%); revocations took %v",
		rounds, sumP, sumU, 100*ratio, revokeTook)
	if ratio < 0.9 {
		t.Errorf("with a paused backup reader ingest acknowledged %.0f%% of the reports it did without one, want at least 90%%", 100*ratio)
	}
	// Each revocation waits for the ingest transaction under way; the median
	// keeps one slow moment of a busy machine from deciding.
	if m := medianDuration(revokeTook); m > time.Second {
		t.Errorf("revocations while the backup reader was paused took %v (median %s), want them applied within 1s", revokeTook, m)
	}
	for round, err := range revokeErrs {
		if err != nil {
			t.Errorf("round %d: revocation: %v", round, err)
			continue
		}
		p := cols[round%2]
		i := agents + round/2
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err = p.fleet.conns[i].Send(ctx, []*pb.Report{p.fleet.fleet.Devices[i].Report(1, time.Now(), 0)})
		cancel()
		wantStatus(t, err, codes.PermissionDenied, "was revoked")
	}
}

func medianDuration(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 0 {
		return (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return s[len(s)/2]
}
