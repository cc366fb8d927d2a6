package store

import (
	"errors"
	"testing"

	"google.golang.org/protobuf/proto"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// TestSinkStatePersists: cursors and dead letters (with their requeue
// marks) are kept per output in the bbolt file, across a reopen.
func TestSinkStatePersists(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir, Options{})
	err := s.Update(func(tx *Tx) error {
		if _, ok := tx.SinkCursor("secops"); ok {
			t.Error("a new output has a cursor")
		}
		if err := tx.SetSinkCursor("secops", 41); err != nil {
			return err
		}
		if err := tx.SetSinkCursor("secops-2", 7); err != nil {
			return err
		}
		for _, d := range []*pb.DeadLetter{{Sink: "secops", EventId: 3, Attempts: 8, LastError: "503"},
			{Sink: "secops", EventId: 300, Attempts: 8}, {Sink: "secops-2", EventId: 4}, {Sink: "secops", EventId: 5}} {
			if err := tx.PutDeadLetter(d); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openTest(t, dir, Options{})
	defer s.Close()
	err = s.Update(func(tx *Tx) error {
		if c, ok := tx.SinkCursor("secops"); !ok || c != 41 {
			t.Errorf("cursor after reopen: %d %v, want 41", c, ok)
		}
		ds, err := tx.DeadLetters("secops")
		if err != nil {
			return err
		}
		if got := eventIDs(ds); !equalIDs(got, []uint64{3, 5, 300}) {
			t.Errorf("secops dead letters %v, want [3 5 300] (event id order, not secops-2's)", got)
		}
		if ds[0].GetLastError() != "503" {
			t.Errorf("dead letter lost its fields: %v", ds[0])
		}
		if _, err := tx.RequeueDeadLetters("secops", []uint64{5, 99}); !errors.Is(err, ErrNotFound) {
			t.Errorf("requeue of an event with no dead letter: %v, want ErrNotFound", err)
		}
		if got := tx.RequeuedDeadLetters("secops"); len(got) != 0 {
			t.Errorf("a refused requeue marked %v", got)
		}
		if n, err := tx.RequeueDeadLetters("secops", []uint64{300, 5, 5}); err != nil || n != 2 {
			t.Errorf("requeue: %d %v, want 2", n, err)
		}
		all, err := tx.DeadLetters("")
		if err != nil {
			return err
		}
		if len(all) != 4 {
			t.Errorf("all dead letters: %d, want 4 (requeue marks are not letters)", len(all))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = openTest(t, dir, Options{})
	defer s.Close()
	err = s.Update(func(tx *Tx) error {
		if got := tx.RequeuedDeadLetters("secops"); !equalIDs(got, []uint64{5, 300}) {
			t.Errorf("requeued after reopen %v, want [5 300]", got)
		}
		if err := tx.DeleteDeadLetter("secops", 5); err != nil {
			return err
		}
		if err := tx.DeleteDeadLetter("secops", 5); !errors.Is(err, ErrNotFound) {
			t.Errorf("second delete: %v, want ErrNotFound", err)
		}
		// Failing again: the letter is back, no longer requeued.
		d, err := tx.DeadLetter("secops", 300)
		if err != nil {
			return err
		}
		d.Attempts = 16
		if err := tx.PutDeadLetter(d); err != nil {
			return err
		}
		if got := tx.RequeuedDeadLetters("secops"); len(got) != 0 {
			t.Errorf("requeued after delivery and new failure: %v, want none", got)
		}
		back, err := tx.DeadLetter("secops", 300)
		if err != nil || !proto.Equal(back, d) {
			t.Errorf("dead letter 300: %v %v", back, err)
		}
		n, err := tx.RequeueDeadLetters("secops", nil)
		if err != nil || n != 2 {
			t.Errorf("requeue all: %d %v, want 2 (3 and 300)", n, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func eventIDs(ds []*pb.DeadLetter) []uint64 {
	var ids []uint64
	for _, d := range ds {
		ids = append(ids, d.GetEventId())
	}
	return ids
}

func equalIDs(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
