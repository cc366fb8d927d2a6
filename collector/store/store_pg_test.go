package store

import (
	"context"
	"errors"
	"strings"
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
