package store

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

func ev(rule string, w float64) *pb.Evidence { return &pb.Evidence{Rule: rule, Weight: w} }

// Each change of an alert is the event the design names, in the transaction
// of the change; a put that changes nothing a reviewer acts on writes none;
// ids go up by one; the actor is the transaction's.
func TestAlertEventTypes(t *testing.T) {
	dir := t.TempDir()
	clock := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	var logged []*pb.AlertEvent
	s := openTest(t, dir, Options{ReviewThreshold: func() float64 { return 0.6 }, Now: func() time.Time { return clock },
		OnAlertEvents: func(evs []*pb.AlertEvent) { mu.Lock(); logged = append(logged, evs...); mu.Unlock() }})
	defer s.Close()
	put := func(actor string, a *pb.Alert) {
		t.Helper()
		if err := s.Update(func(tx *Tx) error {
			tx.SetActor(actor)
			return tx.PutAlert(a.GetDeviceId(), proto.Clone(a).(*pb.Alert))
		}); err != nil {
			t.Fatal(err)
		}
	}
	a := &pb.Alert{Id: "A-000001", Kind: "device", DeviceId: "d-1", Status: "open", Score: 0.40,
		Evidence: []*pb.Evidence{ev("country_mismatch", 1)}, Summary: "first"}
	want := []struct {
		typ, actor string
		score      float64
		prev       float64
	}{}
	step := func(actor string, typ string, change func()) {
		prev := a.GetScore()
		change()
		put(actor, a)
		if typ != "" {
			if len(want) == 0 {
				prev = 0
			}
			want = append(want, struct {
				typ, actor string
				score      float64
				prev       float64
			}{typ, actor, a.GetScore(), prev})
		}
	}
	step("", EventOpened, func() {})
	step("", "", func() { a.Score = 0.42; a.Summary = "a word changed" })                                   // small move, same rules
	step("", EventEvidenceChanged, func() { a.Score = 0.48 })                                               // 0.06 from 0.42
	step("", EventEvidenceChanged, func() { a.Evidence = append(a.Evidence, ev("remote_access_peer", 1)) }) // a new rule
	step("", "", func() { a.Evidence[1].Weight = 2 })                                                       // same rules, same score
	step("", EventReviewCrossed, func() { a.Score = 0.61 })                                                 // crosses 0.6
	step("", EventEvidenceChanged, func() { a.Score = 0.55 })                                               // down across: a change
	step("", EventReviewCrossed, func() { a.Score = 0.60 })                                                 // at the threshold
	step("rev-1", EventAcknowledged, func() { a.Status = "acknowledged" })
	step("", "", func() { a.Score = 0.62 })
	step("rev-2", EventResolved, func() { a.Status = "resolved"; a.Verdict = "confirmed" })

	evs, err := s.AlertEvents(0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != len(want) {
		t.Fatalf("%d events, want %d: %v", len(evs), len(want), evs)
	}
	for i, e := range evs {
		w := want[i]
		if e.GetId() != uint64(i+1) || e.GetType() != w.typ || e.GetActor() != w.actor ||
			e.GetAlert().GetScore() != w.score || e.GetPreviousScore() != w.prev || !e.GetAt().AsTime().Equal(clock) {
			t.Errorf("event %d: %v; want id %d type %s actor %q score %.2f previous %.2f", i, e, i+1, w.typ, w.actor, w.score, w.prev)
		}
	}
	if evs[len(evs)-1].GetAlert().GetVerdict() != "confirmed" {
		t.Errorf("the event does not carry the alert as the change left it: %v", evs[len(evs)-1].GetAlert())
	}
	mu.Lock()
	if len(logged) != len(evs) {
		t.Errorf("OnAlertEvents saw %d events, the log holds %d", len(logged), len(evs))
	}
	mu.Unlock()
	if first, _ := s.FirstAlertEventID(); first != 1 {
		t.Errorf("first id %d", first)
	}
	if last, _ := s.LastAlertEventID(); last != uint64(len(want)) {
		t.Errorf("last id %d", last)
	}
	if page, _ := s.AlertEvents(3, 2); len(page) != 2 || page[0].GetId() != 4 || page[1].GetId() != 5 {
		t.Errorf("AlertEvents(3, 2): %v", page)
	}

	// A rolled-back change writes no event and wakes no one.
	sig := s.AlertEventsSignal()
	s.Update(func(tx *Tx) error {
		if err := tx.PutAlert("d-2", &pb.Alert{Id: "A-000002", Kind: "device", DeviceId: "d-2", Status: "open", Score: 0.9}); err != nil {
			return err
		}
		return os.ErrInvalid
	})
	select {
	case <-sig:
		t.Error("a rolled-back transaction closed the signal")
	default:
	}
	if last, _ := s.LastAlertEventID(); last != uint64(len(want)) {
		t.Errorf("a rolled-back event is in the log: last id %d", last)
	}
	// Two alerts opened in one transaction: two events, ids +1, one wakeup.
	if err := s.Update(func(tx *Tx) error {
		for _, id := range []string{"A-000003", "A-000004"} {
			if err := tx.PutAlert("f-"+id, &pb.Alert{Id: id, Kind: "farm", ClusterId: "f-" + id, Status: "open", Score: 0.7}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-sig:
	default:
		t.Error("a commit with events did not close the signal")
	}
	evs, _ = s.AlertEvents(uint64(len(want)), 10)
	if len(evs) != 2 || evs[0].GetId() != uint64(len(want)+1) || evs[1].GetId() != uint64(len(want)+2) ||
		evs[0].GetType() != EventOpened || evs[1].GetAlert().GetId() != "A-000004" {
		t.Errorf("two opened in one transaction: %v", evs)
	}
	// The sequence is durable: ids go on after a reopen.
	s.Close()
	s = openTest(t, dir, Options{})
	if err := s.Update(func(tx *Tx) error {
		return tx.PutAlert("d-9", &pb.Alert{Id: "A-000009", Kind: "device", DeviceId: "d-9", Status: "open", Score: 0.3})
	}); err != nil {
		t.Fatal(err)
	}
	if last, _ := s.LastAlertEventID(); last != uint64(len(want)+3) {
		t.Errorf("after a reopen the next id is %d, want %d", last, len(want)+3)
	}
}

// Pruning deletes events older than the cutoff, oldest first, never the
// newest; ids go on after it.
func TestPruneAlertEvents(t *testing.T) {
	clock := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	s := openTest(t, t.TempDir(), Options{Now: func() time.Time { return clock }})
	defer s.Close()
	defer func(n int) { pruneEventsChunk = n }(pruneEventsChunk)
	pruneEventsChunk = 3 // several transactions
	for i := range 10 {
		clock = clock.Add(time.Hour)
		if err := s.Update(func(tx *Tx) error {
			return tx.PutAlert("d", &pb.Alert{Id: "A-" + string(rune('a'+i)), Kind: "device", Status: "open"})
		}); err != nil {
			t.Fatal(err)
		}
	}
	// Events at 01:00 .. 10:00; before 05:30 are the first five.
	n, err := s.PruneAlertEvents(time.Date(2026, 12, 1, 5, 30, 0, 0, time.UTC))
	if err != nil || n != 5 {
		t.Fatalf("pruned %d, %v; want 5", n, err)
	}
	if first, _ := s.FirstAlertEventID(); first != 6 {
		t.Errorf("first kept id %d, want 6", first)
	}
	// A cutoff past every event keeps the newest.
	if n, err = s.PruneAlertEvents(clock.Add(24 * time.Hour)); err != nil || n != 4 {
		t.Fatalf("pruned %d, %v; want 4", n, err)
	}
	first, _ := s.FirstAlertEventID()
	last, _ := s.LastAlertEventID()
	if first != 10 || last != 10 {
		t.Errorf("after pruning everything: first %d last %d, want the newest (10) kept", first, last)
	}
	if err := s.Update(func(tx *Tx) error {
		return tx.PutAlert("d", &pb.Alert{Id: "A-z", Kind: "device", Status: "open"})
	}); err != nil {
		t.Fatal(err)
	}
	if last, _ := s.LastAlertEventID(); last != 11 {
		t.Errorf("next id after pruning: %d, want 11", last)
	}
}

// An erased hire survives in no event: the events of their alerts keep the
// alert's id alone, other alerts' events lose their name and devices, and
// after the free pages are scrubbed no byte of it is in the file.
func TestEraseHireScrubsAlertEvents(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir, Options{})
	defer s.Close()
	secret := "Quentin Zyxwave"
	if err := s.Update(func(tx *Tx) error {
		if err := tx.PutHire(&pb.Hire{Id: "h-gone", Name: secret}); err != nil {
			return err
		}
		if err := tx.PutHire(&pb.Hire{Id: "h-kept", Name: "Other Person"}); err != nil {
			return err
		}
		for _, d := range []*pb.Device{{Id: "d-gone", HireId: "h-gone"}, {Id: "d-kept", HireId: "h-kept"}} {
			if err := tx.PutDevice(d); err != nil {
				return err
			}
		}
		if err := tx.PutAlert("d-gone", &pb.Alert{Id: "A-1", Kind: "device", DeviceId: "d-gone", HireId: "h-gone",
			Status: "open", Score: 0.7, Summary: secret + " in Lagos"}); err != nil {
			return err
		}
		return tx.PutAlert("c-1", &pb.Alert{Id: "A-2", Kind: "farm", ClusterId: "c-1", Status: "open", Score: 0.8,
			MemberDevices: []string{"d-gone", "d-kept"}, MemberHires: []string{"h-gone", "h-kept"},
			Summary: "farm of " + secret + " and Other Person"})
	}); err != nil {
		t.Fatal(err)
	}
	var n Erasure
	if err := s.Update(func(tx *Tx) (err error) { n, err = tx.EraseHire("h-gone"); return err }); err != nil {
		t.Fatal(err)
	}
	if n.AlertEvents != 1 || n.AlertEventsScrubbed != 1 {
		t.Errorf("erasure counts %+v: want one event of the hire's alert erased, one other scrubbed", n)
	}
	evs, err := s.AlertEvents(0, 10)
	if err != nil || len(evs) != 2 {
		t.Fatalf("events after the erasure: %v %v; want both kept (ids without a gap)", evs, err)
	}
	for _, e := range evs {
		text := prototext.Format(e)
		if strings.Contains(text, secret) || strings.Contains(text, "d-gone") || strings.Contains(text, "h-gone") || strings.Contains(text, "Lagos") {
			t.Errorf("event %d still names the erased hire: %s", e.GetId(), text)
		}
	}
	if a := evs[0].GetAlert(); a.GetId() != "A-1" || a.GetSummary() != erasedText {
		t.Errorf("the erased alert's event: %v", a)
	}
	if a := evs[1].GetAlert(); len(a.GetMemberDevices()) != 1 || a.GetMemberDevices()[0] != "d-kept" {
		t.Errorf("the farm alert's event: %v", a)
	}
	_, err = s.ScrubFreePages(5 * time.Second)
	if s.bolt == nil { // another backend: no file, and no free pages of one to scrub
		if !errors.Is(err, ErrNotBbolt) {
			t.Fatalf("scrubbing free pages off bbolt: %v, want ErrNotBbolt", err)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, File))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte(secret)) {
		t.Error("the erased name is still in the file")
	}
}

// A schema-8 store gains the event log at its first open (schema 9): empty,
// no synthetic events for the alerts it holds, and the next change of one
// of them is event 1.
func TestMigrateKeepsAlertEvents(t *testing.T) {
	requireBolt(t)
	dir := t.TempDir()
	db, err := bolt.Open(filepath.Join(dir, File), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		for _, b := range allBuckets {
			if bytes.Equal(b, bucketAlertEvents) {
				continue
			}
			if _, err := tx.CreateBucket(b); err != nil {
				return err
			}
		}
		if err := tx.Bucket(bucketMeta).Put(keySchema, u64(8)); err != nil {
			return err
		}
		if err := putProto(boltBucket{tx.Bucket(bucketHires)}, []byte("h-1"), &pb.Hire{Id: "h-1"}); err != nil {
			return err
		}
		return putProto(boltBucket{tx.Bucket(bucketAlerts)}, []byte("A-000001"), &pb.Alert{Id: "A-000001", Kind: "device", Status: "open", Score: 0.8})
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	s := openTest(t, dir, Options{})
	defer s.Close()
	s.View(func(tx *Tx) error {
		if v := tx.tx.Bucket(bucketMeta).Get(keySchema); !bytes.Equal(v, u64(SchemaVersion)) {
			t.Errorf("schema %x after the migration, want %d", v, SchemaVersion)
		}
		return nil
	})
	if last, err := s.LastAlertEventID(); err != nil || last != 0 {
		t.Errorf("events after the migration: last id %d, %v; want none", last, err)
	}
	if err := s.Update(func(tx *Tx) error {
		a, err := tx.Alert("A-000001")
		if err != nil {
			return err
		}
		a.Status = "acknowledged"
		return tx.PutAlert("d-1", a)
	}); err != nil {
		t.Fatal(err)
	}
	evs, _ := s.AlertEvents(0, 10)
	if len(evs) != 1 || evs[0].GetId() != 1 || evs[0].GetType() != EventAcknowledged {
		t.Errorf("the first change after the migration: %v", evs)
	}
}

// The reviewers' queue read through the open-alert index lists exactly the
// open and acknowledged alerts of the whole history, in its order, however
// many alerts were resolved, reopened on the same subject or replaced.
func TestUnresolvedAlertsMatchTheHistory(t *testing.T) {
	s := openTest(t, t.TempDir(), Options{})
	defer s.Close()
	statuses := []string{"open", "acknowledged", "resolved"}
	n := 0
	for round := range 3 {
		if err := s.Update(func(tx *Tx) error {
			for i := range 12 {
				subject, kind := fmt.Sprintf("d-%d", i%5), []string{"device", "farm"}[i%2]
				if cur, err := tx.OpenAlert(subject, kind); err != nil {
					return err
				} else if cur != nil {
					// A later round moves an alert on: acknowledged, resolved.
					cur.Status = statuses[(round+i)%3]
					if err := tx.PutAlert(subject, cur); err != nil {
						return err
					}
					continue
				}
				n++
				a := &pb.Alert{Id: fmt.Sprintf("A-%06d", n), DeviceId: subject, Kind: kind, Status: statuses[(round+i)%2], Score: float64(i) / 12}
				if err := tx.PutAlert(subject, a); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		ids := func(as []*pb.Alert) string {
			var out []string
			for _, a := range as {
				out = append(out, a.GetId()+":"+a.GetStatus())
			}
			return strings.Join(out, " ")
		}
		for _, want := range []string{"open", "acknowledged"} {
			keep := func(a *pb.Alert) bool { return a.GetStatus() == want }
			var all, queue []*pb.Alert
			if err := s.View(func(tx *Tx) (err error) {
				if all, err = tx.Alerts(keep); err != nil {
					return err
				}
				queue, err = tx.UnresolvedAlerts(keep)
				return err
			}); err != nil {
				t.Fatal(err)
			}
			if ids(queue) != ids(all) || len(all) == 0 {
				t.Fatalf("round %d, %s alerts: through the index %q, in the history %q", round, want, ids(queue), ids(all))
			}
		}
	}
}

// The open queue against the whole history it sits in: 100 unresolved
// alerts among 10,000 (the rest resolved), listed by scanning every alert
// and through the open-alert index.
func BenchmarkAlertQueue(b *testing.B) {
	s := openTest(b, b.TempDir(), Options{})
	defer s.Close()
	const total, unresolved = 10_000, 100
	for start := 0; start < total; start += 1000 {
		if err := s.Update(func(tx *Tx) error {
			for i := start; i < start+1000; i++ {
				st := "resolved"
				if i%(total/unresolved) == 0 {
					st = "open"
				}
				subject := fmt.Sprintf("d-%d", i)
				a := &pb.Alert{Id: fmt.Sprintf("A-%06d", i+1), DeviceId: subject, Kind: "device", Status: st, Score: 0.7,
					Evidence: []*pb.Evidence{{Rule: "remote_access_tool", Explanation: "a remote-access tool listening", Weight: 0.4}}}
				if err := tx.PutAlert(subject, a); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			b.Fatal(err)
		}
	}
	open := func(a *pb.Alert) bool { return a.GetStatus() == "open" }
	for _, c := range []struct {
		name string
		list func(*Tx) ([]*pb.Alert, error)
	}{
		{"history", func(tx *Tx) ([]*pb.Alert, error) { return tx.Alerts(open) }},
		{"index", func(tx *Tx) ([]*pb.Alert, error) { return tx.UnresolvedAlerts(open) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				var got []*pb.Alert
				if err := s.View(func(tx *Tx) (err error) { got, err = c.list(tx); return err }); err != nil {
					b.Fatal(err)
				}
				if len(got) != unresolved {
					b.Fatalf("%d open alerts, want %d", len(got), unresolved)
				}
			}
		})
	}
}
