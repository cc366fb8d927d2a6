package store

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/farmwatch/farmwatch/internal/pgtest"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// A database with store data but no schema marker is a copy that did not
// finish: a collector refuses it rather than stamp it as a new store.
func TestOpenPostgresRefusesAPartialCopy(t *testing.T) {
	c := pgtest.Shared(t)
	url := c.NewDatabase(t)
	e, err := openPGEngine(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Update(func(tx kvTx) error {
		b, err := tx.CreateBucketIfNotExists(bucketHires)
		if err != nil {
			return err
		}
		return b.Put([]byte("h-1"), []byte("x"))
	}); err != nil {
		t.Fatal(err)
	}
	e.Close()
	s, err := OpenPostgres(context.Background(), url, Options{})
	var partial *partialCopyError
	if !errors.As(err, &partial) || !strings.Contains(err.Error(), "drop and recreate") {
		if s != nil {
			s.Close()
		}
		t.Fatalf("open of a partial copy: %v, want a refusal naming the partial copy", err)
	}
	// Nothing was stamped: the marker is still missing.
	e, err = openPGEngine(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if err := e.View(func(tx kvTx) error {
		if m := tx.Bucket(bucketMeta); m != nil && m.Get(keySchema) != nil {
			t.Error("the refused open wrote the schema marker")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// Two stores on one database are two collectors: a reader of the event log
// on one wakes for the events the other commits, within a few polls, and a
// poll that finds nothing new wakes no one.
func TestSharedStoreWakesForOtherWritersEvents(t *testing.T) {
	url := pgtest.Shared(t).NewDatabase(t)
	const poll = 50 * time.Millisecond
	a, err := OpenPostgres(context.Background(), url, Options{EventPoll: poll})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := OpenPostgres(context.Background(), url, Options{EventPoll: poll})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()

	sig := b.AlertEventsSignal()
	select {
	case <-sig:
		t.Fatal("b's signal closed with no event committed")
	case <-time.After(5 * poll):
	}
	start := time.Now()
	if err := a.Update(func(tx *Tx) error {
		return tx.PutAlert("d-1", &pb.Alert{Id: "A-000001", Kind: "device", DeviceId: "d-1", Status: "open", Score: 0.9})
	}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-sig:
		t.Logf("b woke %s after a's commit (poll %s)", time.Since(start).Round(time.Millisecond), poll)
	case <-time.After(5 * time.Second):
		t.Fatal("b's readers were not woken for an event a committed")
	}
	evs, err := b.AlertEvents(0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 || evs[0].GetAlert().GetId() != "A-000001" {
		t.Fatalf("b reads %v, want the event a committed", evs)
	}
	// The poll has seen that id: no further wakeup without a new event.
	sig = b.AlertEventsSignal()
	select {
	case <-sig:
		t.Error("b's signal closed again with no new event")
	case <-time.After(5 * poll):
	}
	// b's own commit wakes its readers once, at the commit; its poll then
	// finds nothing new.
	if err := b.Update(func(tx *Tx) error {
		return tx.PutAlert("d-2", &pb.Alert{Id: "A-000002", Kind: "device", DeviceId: "d-2", Status: "open", Score: 0.9})
	}); err != nil {
		t.Fatal(err)
	}
	sig = b.AlertEventsSignal()
	select {
	case <-sig:
		t.Error("b's poll woke its readers for b's own event")
	case <-time.After(5 * poll):
	}
}

// Two collectors' read-modify-writes of one key conflict, and Retries
// counts the attempts run again (what farmwatch_store_retries_total
// shows); a bbolt store's count stays 0.
func TestStoreRetriesCountsConflicts(t *testing.T) {
	url := pgtest.Shared(t).NewDatabase(t)
	var stores [2]*Store
	for i := range stores {
		s, err := OpenPostgres(context.Background(), url, Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		stores[i] = s
	}
	key := []byte("bench-counter")
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for _, s := range stores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				if err := s.Update(func(tx *Tx) error {
					b := tx.tx.Bucket(bucketMeta)
					n := uint64(0)
					if v := b.Get(key); v != nil {
						n = binary.BigEndian.Uint64(v)
					}
					return b.Put(key, binary.BigEndian.AppendUint64(nil, n+1))
				}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if r := stores[0].Retries() + stores[1].Retries(); r == 0 {
		t.Fatal("no retry counted in 200 concurrent read-modify-writes of one key from two stores")
	}
	bs, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer bs.Close()
	if err := bs.Update(func(tx *Tx) error { return tx.tx.Bucket(bucketMeta).Put(key, []byte{1}) }); err != nil {
		t.Fatal(err)
	}
	if r := bs.Retries(); r != 0 {
		t.Fatalf("bbolt store Retries = %d, want 0", r)
	}
}

// Two collectors sharing a database ingest at once, reports received in the
// same nanosecond: every report is stored under a key of its own, each
// store's under its own writer number.
func TestTwoStoresIngestConcurrently(t *testing.T) {
	url := pgtest.Shared(t).NewDatabase(t)
	var stores [2]*Store
	for i := range stores {
		s, err := OpenPostgres(context.Background(), url, Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		stores[i] = s
	}
	const devices, perDevice = 8, 25
	for d := range devices {
		addDevice(t, stores[0], fmt.Sprintf("d-%d", d))
	}
	at := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	var wg sync.WaitGroup
	errs := make(chan error, devices)
	for d := range devices {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprintf("d-%d", d)
			for seq := range uint64(perDevice) {
				if _, err := stores[d%2].Ingest(id, []*pb.StoredReport{stored(id, seq+1, at)}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	keys := reportKeys(t, stores[0])
	if len(keys) != devices*perDevice {
		t.Fatalf("%d reports stored, want %d", len(keys), devices*perDevice)
	}
	writers := map[uint64]int{}
	for _, k := range keys {
		writers[binary.BigEndian.Uint64(k[8:])>>reportWordCountBits]++
	}
	if len(writers) != 2 {
		t.Fatalf("reports by writer number %v: want two writers", writers)
	}
	t.Logf("%d reports from two stores, %d and %d conflict retries", len(keys), stores[0].Retries(), stores[1].Retries())
}
