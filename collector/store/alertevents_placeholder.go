package store

import pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"

// This file stands in for the alert event log (events.go) until it lands:
// the four methods the alert outputs read, returning an empty log. Delete
// this file when events.go arrives; nothing else refers to it.

// AlertEvents returns up to limit events with id > after, in id order.
func (s *Store) AlertEvents(after uint64, limit int) ([]*pb.AlertEvent, error) { return nil, nil }

// LastAlertEventID is the newest event's id (0 when none).
func (s *Store) LastAlertEventID() (uint64, error) { return 0, nil }

// FirstAlertEventID is the oldest kept event's id (0 when none).
func (s *Store) FirstAlertEventID() (uint64, error) { return 0, nil }

// AlertEventsSignal returns a channel closed at the next commit that writes
// an alert event; with no event log, never.
func (s *Store) AlertEventsSignal() <-chan struct{} { return nil }
