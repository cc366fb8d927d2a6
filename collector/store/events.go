package store

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// The alert event log (schema 9): every change of an alert that a reviewer
// or an output would act on is an event, written by Tx.PutAlert in the
// transaction that makes the change, keyed by an id that grows by one per
// event in commit order (docs/ALERTS-OUT.md).

// Event types.
const (
	EventOpened          = "opened"
	EventEvidenceChanged = "evidence_changed"
	EventReviewCrossed   = "review_crossed"
	EventAcknowledged    = "acknowledged"
	EventResolved        = "resolved"
)

// EvidenceScoreStep is the smallest change of an alert's score that is an
// evidence_changed event when its rules stay the same.
const EvidenceScoreStep = 0.05

// DefaultReviewThreshold is the review threshold of the events when the
// store's Options name none.
const DefaultReviewThreshold = 0.5

// eventSignal wakes the readers of the event log at each commit that writes
// events: closed and replaced under its lock.
type eventSignal struct {
	ch chan struct{}
}

// SetActor names the admin behind the changes of this transaction: the
// alert events it writes carry the name.
func (tx *Tx) SetActor(name string) { tx.actor = name }

// alertEventType decides what a change of an alert is, from its stored
// version (nil for a new alert); "" when it is no event.
func alertEventType(prev, a *pb.Alert, review func() float64) string {
	switch {
	case prev == nil:
		return EventOpened
	case a.GetStatus() != prev.GetStatus() && a.GetStatus() == "acknowledged":
		return EventAcknowledged
	case a.GetStatus() != prev.GetStatus() && a.GetStatus() == "resolved":
		return EventResolved
	case a.GetScore() > prev.GetScore() && prev.GetScore() < review() && a.GetScore() >= review():
		return EventReviewCrossed
	case !slices.Equal(evidenceRules(prev), evidenceRules(a)) || math.Abs(a.GetScore()-prev.GetScore()) >= EvidenceScoreStep:
		return EventEvidenceChanged
	}
	return ""
}

// evidenceRules is the set of an alert's evidence rules, sorted.
func evidenceRules(a *pb.Alert) []string {
	rules := make([]string, 0, len(a.GetEvidence()))
	for _, e := range a.GetEvidence() {
		rules = append(rules, e.GetRule())
	}
	slices.Sort(rules)
	return slices.Compact(rules)
}

// recordAlertEvent writes the event, if any, of an alert about to replace
// prevRaw (nil: a new alert) in this transaction.
func (tx *Tx) recordAlertEvent(prevRaw []byte, a *pb.Alert) error {
	var prev *pb.Alert
	if prevRaw != nil {
		var err error
		if prev, err = tx.s.alerts.get(a.GetId(), prevRaw); err != nil {
			return fmt.Errorf("alert %q: %w", a.GetId(), err)
		}
	}
	typ := alertEventType(prev, a, tx.s.reviewThreshold)
	if typ == "" {
		return nil
	}
	b := tx.tx.Bucket(bucketAlertEvents)
	id, err := b.NextSequence()
	if err != nil {
		return err
	}
	// The stored event holds the alert as the change left it (marshalled
	// now, before the caller changes it again).
	ev := &pb.AlertEvent{Id: id, Type: typ, At: timestamppb.New(tx.s.now().UTC()), Actor: tx.actor,
		Alert: a, PreviousScore: prev.GetScore()}
	if err := putProto(b, u64(id), ev); err != nil {
		return err
	}
	if len(tx.events) == 0 {
		tx.tx.OnCommit(func() { tx.s.alertEventsCommitted(tx.events) })
	}
	// What runs after the commit gets the event with the alert's heading
	// only: an import that opens many alerts in one transaction holds no
	// copy of each until its commit.
	ev.Alert = &pb.Alert{Id: a.GetId(), Kind: a.GetKind(), Status: a.GetStatus(), Score: a.GetScore(), PeakScore: a.GetPeakScore()}
	tx.events = append(tx.events, ev)
	return nil
}

func (s *Store) reviewThreshold() float64 {
	if s.review == nil {
		return DefaultReviewThreshold
	}
	return s.review()
}

func (s *Store) now() time.Time {
	if s.clock == nil {
		return time.Now()
	}
	return s.clock()
}

// alertEventsCommitted runs after a commit that wrote events: it wakes the
// readers of the log, then hands the events to Options.OnAlertEvents.
func (s *Store) alertEventsCommitted(events []*pb.AlertEvent) {
	if len(events) > 0 {
		s.sawAlertEvent(events[len(events)-1].GetId())
	}
	s.wakeEventReaders()
	if s.onAlertEvents != nil {
		s.onAlertEvents(events)
	}
}

// pollAlertEvents wakes the readers of a shared store's event log when
// another collector committed events: the local signal knows only this
// collector's commits. One read of the newest id a poll; readers wake only
// when it moved.
func (s *Store) pollAlertEvents(every time.Duration) {
	defer close(s.pollDone)
	t := time.NewTicker(every)
	defer t.Stop()
	if last, err := s.LastAlertEventID(); err == nil {
		s.sawAlertEvent(last)
	}
	for {
		select {
		case <-s.pollStop:
			return
		case <-t.C:
		}
		last, err := s.LastAlertEventID()
		// A failed read (the database restarting) wakes nobody: the next
		// poll tries again. Nor does an event this collector committed:
		// its commit woke the readers already.
		if err != nil || !s.sawAlertEvent(last) {
			continue
		}
		s.wakeEventReaders()
	}
}

// sawAlertEvent records id as the newest event id seen by this collector,
// its own commits' or a poll's; false when it is not newer.
func (s *Store) sawAlertEvent(id uint64) bool {
	for {
		seen := s.eventsSeen.Load()
		if id <= seen {
			return false
		}
		if s.eventsSeen.CompareAndSwap(seen, id) {
			return true
		}
	}
}

// wakeEventReaders closes the signal the readers of the log wait on.
func (s *Store) wakeEventReaders() {
	s.signalMu.Lock()
	close(s.signal.ch)
	s.signal.ch = make(chan struct{})
	s.signalMu.Unlock()
}

// AlertEventsSignal returns a channel closed at the next commit that writes
// an alert event (on a shared store, also when a poll finds events another
// collector committed). Take the channel before reading the log, then read, then
// wait on it: an event committed between the read and the wait closes the
// channel already taken, so no wakeup is lost.
func (s *Store) AlertEventsSignal() <-chan struct{} {
	s.signalMu.Lock()
	defer s.signalMu.Unlock()
	return s.signal.ch
}

// AlertEvents returns up to limit events with id > after, in id order.
func (s *Store) AlertEvents(after uint64, limit int) ([]*pb.AlertEvent, error) {
	var out []*pb.AlertEvent
	if limit <= 0 || after == math.MaxUint64 {
		return nil, nil
	}
	err := s.kv.View(func(tx kvTx) error {
		out = out[:0] // per attempt
		c := tx.Bucket(bucketAlertEvents).Cursor()
		for k, v := c.Seek(u64(after + 1)); k != nil && len(out) < limit; k, v = c.Next() {
			ev := &pb.AlertEvent{}
			if err := proto.Unmarshal(v, ev); err != nil {
				return fmt.Errorf("alert event %d: %w", binary.BigEndian.Uint64(k), err)
			}
			out = append(out, ev)
		}
		return nil
	})
	return out, err
}

// LastAlertEventID is the newest event's id (0 when none).
func (s *Store) LastAlertEventID() (uint64, error) {
	return s.alertEventEnd(func(c kvCursor) ([]byte, []byte) { return c.Last() })
}

// FirstAlertEventID is the oldest kept event's id (0 when none).
func (s *Store) FirstAlertEventID() (uint64, error) {
	return s.alertEventEnd(func(c kvCursor) ([]byte, []byte) { return c.First() })
}

func (s *Store) alertEventEnd(end func(kvCursor) ([]byte, []byte)) (uint64, error) {
	var id uint64
	err := s.kv.View(func(tx kvTx) error {
		if k, _ := end(tx.Bucket(bucketAlertEvents).Cursor()); k != nil {
			id = binary.BigEndian.Uint64(k)
		}
		return nil
	})
	return id, err
}

// pruneEventsChunk is how many events one pruning transaction deletes.
var pruneEventsChunk = 5000

// PruneAlertEvents deletes events written before before, oldest first, but
// never the newest event; it returns how many it deleted. Ids go on from
// the bucket's sequence either way.
func (s *Store) PruneAlertEvents(before time.Time) (int, error) {
	total := 0
	for {
		var n int
		var more bool
		err := s.kv.Update(func(tx kvTx) error {
			n, more = 0, false // per attempt: the engine may run this again
			b := tx.Bucket(bucketAlertEvents)
			lastK, _ := b.Cursor().Last()
			lastK = bytes.Clone(lastK) // the newest is never deleted
			c := b.Cursor()
			for k, v := c.First(); k != nil && !bytes.Equal(k, lastK); k, v = c.First() {
				if n == pruneEventsChunk {
					more = true
					return nil
				}
				ev := &pb.AlertEvent{}
				if err := proto.Unmarshal(v, ev); err != nil {
					return fmt.Errorf("alert event %d: %w", binary.BigEndian.Uint64(k), err)
				}
				if !ev.GetAt().AsTime().Before(before) {
					return nil
				}
				if err := c.Delete(); err != nil {
					return err
				}
				n++
			}
			return nil
		})
		total += n
		if err != nil || !more {
			return total, err
		}
	}
}

// eraseAlertEvents applies an erasure to the alert of every event: decide
// says whether the alert was erased (the event keeps only its alert's id,
// kind and status), or rewrites the alert in place and says whether it
// changed. It returns the events whose alert was erased and those scrubbed.
func (tx *Tx) eraseAlertEvents(decide func(a *pb.Alert) (drop, changed bool)) (deleted, scrubbed int, err error) {
	b := tx.tx.Bucket(bucketAlertEvents)
	type change struct {
		key []byte
		ev  *pb.AlertEvent
	}
	var changes []change
	err = b.ForEach(func(k, v []byte) error {
		ev := &pb.AlertEvent{}
		if err := proto.Unmarshal(v, ev); err != nil {
			return fmt.Errorf("alert event %d: %w", binary.BigEndian.Uint64(k), err)
		}
		if ev.Alert == nil {
			ev.Alert = &pb.Alert{}
		}
		drop, changed := decide(ev.Alert)
		switch {
		case drop:
			// The event stays, so that the ids of the log run on without a
			// gap a watcher would take for pruning; its alert is reduced to
			// what names no one.
			a := ev.GetAlert()
			ev.Alert = &pb.Alert{Id: a.GetId(), Kind: a.GetKind(), Status: a.GetStatus(), Summary: erasedText}
			deleted++
			changes = append(changes, change{bytes.Clone(k), ev})
		case changed:
			scrubbed++
			changes = append(changes, change{bytes.Clone(k), ev})
		}
		return nil
	})
	if err != nil {
		return 0, 0, err
	}
	for _, ch := range changes {
		if err := putProto(b, ch.key, ch.ev); err != nil {
			return deleted, scrubbed, err
		}
	}
	return deleted, scrubbed, nil
}

// keepAlertEvents (schema 9) adds the alert event log. An existing store's
// alerts get no synthetic events: the log starts with the next change.
func keepAlertEvents(tx *bolt.Tx) error {
	_, err := tx.CreateBucketIfNotExists(bucketAlertEvents)
	return err
}
