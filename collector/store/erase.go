package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// Erasure counts what EraseHire removed.
type Erasure struct {
	Devices, Reports, Alerts, Tokens, ClusterMemberships, Fingerprints int
	AuditRedacted, AlertsScrubbed                                      int
	// AlertEvents are events of the hire's alerts, reduced to the alert's
	// id; AlertEventsScrubbed events of other alerts that named the hire.
	AlertEvents, AlertEventsScrubbed int
	// StatesScrubbed are other devices whose remembered evidence (a farm
	// member's lines name the other members) named the hire.
	StatesScrubbed int
}

// erasedText replaces personal data in records that outlive an erasure.
const erasedText = "[erased]"

// PersonalData lists the strings of a hire that an erasure must not leave
// behind: name, email, phone, addresses and places as given and as resolved.
func PersonalData(h *pb.Hire) []string {
	var out []string
	for _, s := range append([]string{h.GetName(), h.GetEmail(), h.GetPhone(), h.GetClaimedHome(),
		h.GetShippingAddress(), h.GetHome().GetPlace(), h.GetShipping().GetPlace()}, h.GetInstitutions()...) {
		if s = strings.TrimSpace(s); len(s) >= 3 && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	// Longest first: "Austin, TX, US" goes whole before "Austin" could.
	slices.SortFunc(out, func(a, b string) int { return len(b) - len(a) })
	return out
}

// DeleteFingerprints removes the fingerprint index entries of devices, so
// that the analysis sees none of their links any more; it returns how many.
func (tx *Tx) DeleteFingerprints(devices []string) (int, error) {
	var doomed [][]byte
	c := tx.tx.Bucket(BucketFingerprints).Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		// kind 0 value 0 device: the device is after the last 0.
		if i := bytes.LastIndexByte(k, 0); i >= 0 && slices.Contains(devices, string(k[i+1:])) {
			doomed = append(doomed, bytes.Clone(k))
		}
	}
	for _, k := range doomed {
		if err := tx.tx.Bucket(BucketFingerprints).Delete(k); err != nil {
			return 0, err
		}
	}
	return len(doomed), nil
}

// DevicesOfHire lists the ids of a hire's devices.
func (tx *Tx) DevicesOfHire(hire string) []string { return tx.devicesOfHire(hire) }

// EraseHire deletes a hire and everything kept about them: their devices
// with their reports, analysis state and cluster index entries, their
// alerts, their enrollment tokens; it scrubs their personal data out of
// other alerts (a farm's lines name its hires) and out of earlier audit
// entries. Run DeleteFingerprints and the analysis's cleanup first.
func (tx *Tx) EraseHire(id string) (Erasure, error) {
	var n Erasure
	h, err := tx.Hire(id)
	if err != nil {
		return n, err
	}
	personal := PersonalData(h)
	devices := tx.devicesOfHire(id)
	devs, reports := tx.tx.Bucket(bucketDevices), tx.tx.Bucket(bucketReports)
	for _, d := range devices {
		prefix := append([]byte(d), 0)
		var doomed [][]byte
		c := devs.Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			doomed = append(doomed, bytes.Clone(k))
			if kvGet(reports, v) != nil {
				if err := reports.Delete(bytes.Clone(v)); err != nil {
					return n, err
				}
				n.Reports++
			}
		}
		for _, k := range doomed {
			if err := devs.Delete(k); err != nil {
				return n, err
			}
		}
		if kvGet(devs, []byte(d)) != nil {
			n.Devices++
		}
		if err := devs.Delete([]byte(d)); err != nil {
			return n, err
		}
		if kvGet(tx.tx.Bucket(BucketClusterOf), []byte(d)) != nil {
			n.ClusterMemberships++
			if err := tx.tx.Bucket(BucketClusterOf).Delete([]byte(d)); err != nil {
				return n, err
			}
		}
		if err := tx.tx.Bucket(bucketDevByHire).Delete(devByHireKey(id, d)); err != nil {
			return n, err
		}
	}
	if err := tx.eraseAlerts(id, devices, personal, &n); err != nil {
		return n, err
	}
	if err := tx.scrubDeviceStates(personal, &n); err != nil {
		return n, err
	}
	if err := tx.eraseTokens(id, &n); err != nil {
		return n, err
	}
	if err := tx.redactAudit(append([]string{id}, devices...), personal, &n); err != nil {
		return n, err
	}
	delete(tx.hires, id)
	return n, tx.tx.Bucket(bucketHires).Delete([]byte(id))
}

func (tx *Tx) eraseAlerts(hire string, devices, personal []string, n *Erasure) error {
	idx := tx.tx.Bucket(bucketAlertIndex)
	// erase says whether an alert is the hire's own (it goes), or takes
	// the hire out of it and says whether that changed it.
	erase := func(a *pb.Alert) (drop, changed bool) {
		if a.GetHireId() == hire || slices.Contains(devices, a.GetDeviceId()) {
			return true, false
		}
		if i := slices.Index(a.GetMemberHires(), hire); i >= 0 {
			a.MemberHires, changed = slices.Delete(a.MemberHires, i, i+1), true
		}
		for _, d := range devices {
			if i := slices.Index(a.GetMemberDevices(), d); i >= 0 {
				a.MemberDevices, changed = slices.Delete(a.MemberDevices, i, i+1), true
			}
			if _, ok := a.GetMemberScores()[d]; ok {
				delete(a.MemberScores, d)
				changed = true
			}
		}
		return false, scrub(a.ProtoReflect(), append(append([]string{}, personal...), devices...)) || changed
	}
	var err error
	if n.Alerts, n.AlertsScrubbed, n.AlertEvents, n.AlertEventsScrubbed, err = tx.applyAlertErasure(erase); err != nil {
		return err
	}
	// The open-alert index: subject (device) 0 kind -> alert id.
	for _, d := range devices {
		prefix := append([]byte(d), 0)
		var doomed [][]byte
		c := idx.Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			doomed = append(doomed, bytes.Clone(k))
		}
		for _, k := range doomed {
			if err := idx.Delete(k); err != nil {
				return err
			}
		}
	}
	return nil
}

// scrubDeviceStates takes the hire's personal data out of the evidence
// memory of every other device.
func (tx *Tx) scrubDeviceStates(personal []string, n *Erasure) error {
	b := tx.tx.Bucket(bucketDevices)
	type change struct {
		key []byte
		rec deviceRecord
	}
	var changes []change
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if bytes.IndexByte(k, 0) >= 0 {
			continue // a report index entry
		}
		rec, err := splitDeviceRecord(v)
		if err != nil {
			return fmt.Errorf("device %q: %w", k, err)
		}
		if len(rec.state) == 0 || rec.state[0] == '{' {
			continue // none, or a legacy JSON state the analysis rewrites on the next report
		}
		st := &pb.StoredDeviceState{}
		if err := proto.Unmarshal(rec.state, st); err != nil {
			return fmt.Errorf("device %q state: %w", k, err)
		}
		if !scrub(st.ProtoReflect(), personal) {
			continue
		}
		if rec.state, err = proto.Marshal(st); err != nil {
			return err
		}
		rec.device, rec.spools = bytes.Clone(rec.device), bytes.Clone(rec.spools)
		changes = append(changes, change{bytes.Clone(k), rec})
	}
	for _, ch := range changes {
		if err := kvPut(b, ch.key, joinDeviceRecord(ch.rec)); err != nil {
			return err
		}
	}
	n.StatesScrubbed = len(changes)
	return nil
}

func (tx *Tx) eraseTokens(hire string, n *Erasure) error {
	b := tx.tx.Bucket(bucketTokens)
	var doomed [][]byte
	err := b.ForEach(func(k, v []byte) error {
		var rec TokenRecord
		if err := json.Unmarshal(v, &rec); err != nil {
			return fmt.Errorf("token %x: %w", k, err)
		}
		if rec.HireID == hire {
			doomed = append(doomed, bytes.Clone(k))
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, k := range doomed {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	n.Tokens = len(doomed)
	return nil
}

// redactAudit rewrites the detail of earlier entries that name the hire's
// personal data (older collectors wrote the claimed home into hire.add and
// hire.update); who did what, when, to which id, stays.
func (tx *Tx) redactAudit(subjects, personal []string, n *Erasure) error {
	b := tx.tx.Bucket(bucketAudit)
	type change struct {
		key []byte
		e   *pb.AuditEntry
	}
	var changes []change
	err := b.ForEach(func(k, v []byte) error {
		e := &pb.AuditEntry{}
		if err := proto.Unmarshal(v, e); err != nil {
			return err
		}
		if scrub(e.ProtoReflect(), personal) {
			changes = append(changes, change{bytes.Clone(k), e})
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, ch := range changes {
		if err := putProto(b, ch.key, ch.e); err != nil {
			return err
		}
	}
	n.AuditRedacted = len(changes)
	return nil
}

// scrub replaces each of secrets in every string of m (nested messages,
// lists and map values too); it tells whether anything changed.
func scrub(m protoreflect.Message, secrets []string) bool {
	if len(secrets) == 0 {
		return false
	}
	return scrubWith(m, func(s string) (string, bool) {
		out := s
		for _, sec := range secrets {
			out = strings.ReplaceAll(out, sec, erasedText)
		}
		return out, out != s
	})
}

// scrubWith rewrites every string of m (nested messages, lists and map
// values too) by clean; it tells whether anything changed.
func scrubWith(m protoreflect.Message, clean func(string) (string, bool)) bool {
	changed := false
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsList():
			l := v.List()
			for i := 0; i < l.Len(); i++ {
				if fd.Kind() == protoreflect.StringKind {
					if s, ok := clean(l.Get(i).String()); ok {
						l.Set(i, protoreflect.ValueOfString(s))
						changed = true
					}
				} else if fd.Kind() == protoreflect.MessageKind {
					changed = scrubWith(l.Get(i).Message(), clean) || changed
				}
			}
		case fd.IsMap():
			if fd.MapValue().Kind() == protoreflect.StringKind {
				mp := v.Map()
				mp.Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
					if s, ok := clean(mv.String()); ok {
						mp.Set(k, protoreflect.ValueOfString(s))
						changed = true
					}
					return true
				})
			}
		case fd.Kind() == protoreflect.StringKind:
			if s, ok := clean(v.String()); ok {
				m.Set(fd, protoreflect.ValueOfString(s))
				changed = true
			}
		case fd.Kind() == protoreflect.MessageKind:
			changed = scrubWith(v.Message(), clean) || changed
		}
		return true
	})
	return changed
}

// errReadersOpen: a read transaction older than the erasure may still read
// the pages it freed, so they cannot be overwritten yet.
var errReadersOpen = errors.New("read transactions are open")

// scrubChunkPages is how many pages one write transaction of a scrub walks:
// the writer (and so ingest) waits for one chunk at a time, never for a walk
// of the whole file, which on a store of many gigabytes reads every page.
var scrubChunkPages = 16384

// ScrubFreePages overwrites every free page of the file with zeros. bbolt
// leaves a deleted record's bytes in the pages it frees until they are
// reused; an erasure calls this after its commit so that no byte of the
// erased data stays in the file. It waits (up to wait in all) for read
// transactions that began before the erasure to end, since they may still
// read those pages. It returns the pages zeroed. On a backend other than
// bbolt it fails with an error wrapping ErrNotBbolt.
func (s *Store) ScrubFreePages(wait time.Duration) (int, error) {
	if s.bolt == nil {
		return 0, errScrubNotBbolt
	}
	f, err := os.OpenFile(s.bolt.Path(), os.O_WRONLY, 0)
	if err != nil {
		return 0, fmt.Errorf("open %s to scrub free pages: %w", s.bolt.Path(), err)
	}
	defer f.Close()
	deadline := time.Now().Add(wait)
	total, next := 0, 2 // pages 0 and 1 are the meta pages
	for {
		n, done, err := s.scrubFreePages(f, &next)
		total += n
		switch {
		case err == nil && done:
			return total, nil
		case err == nil:
			continue
		case !errors.Is(err, errReadersOpen) || time.Now().After(deadline):
			return total, err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// scrubFreePages zeroes the free pages of one chunk from *next on, in one
// write transaction, and moves *next past it; done when the file's end is
// reached.
func (s *Store) scrubFreePages(f *os.File, next *int) (n int, done bool, err error) {
	err = s.bolt.Update(func(btx *bolt.Tx) error {
		// Beginning this write transaction released the pages no open
		// reader can see; with no reader open every free page is unused.
		if s.bolt.Stats().OpenTxN > 0 {
			return errReadersOpen
		}
		size := s.bolt.Info().PageSize
		zeros := make([]byte, size)
		pages := int(btx.Size()) / size
		end := min(*next+scrubChunkPages, pages)
		for id := *next; id < end; id++ {
			info, err := btx.Page(id)
			if err != nil {
				return err
			}
			if info == nil || info.Type != "free" {
				continue
			}
			if _, err := f.WriteAt(zeros, int64(id)*int64(size)); err != nil {
				return fmt.Errorf("zero page %d: %w", id, err)
			}
			n++
		}
		if err := f.Sync(); err != nil {
			return err
		}
		*next, done = end, end >= pages
		return nil
	})
	return n, done, err
}

// applyAlertErasure runs an erasure's decision over every alert: erase says
// whether an alert is the erased person's own (it goes) or takes them out
// of it and says whether that changed it. The alert event log, which holds
// each alert as every change left it, is erased by the same decision.
func (tx *Tx) applyAlertErasure(erase func(*pb.Alert) (drop, changed bool)) (deleted, scrubbed, events, eventsScrubbed int, err error) {
	b := tx.tx.Bucket(bucketAlerts)
	type change struct {
		key []byte
		a   *pb.Alert // nil: delete
	}
	var changes []change
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		a := &pb.Alert{}
		if err := proto.Unmarshal(v, a); err != nil {
			return 0, 0, 0, 0, fmt.Errorf("alert %s: %w", k, err)
		}
		switch drop, changed := erase(a); {
		case drop:
			changes = append(changes, change{bytes.Clone(k), nil})
		case changed:
			changes = append(changes, change{bytes.Clone(k), a})
		}
	}
	if events, eventsScrubbed, err = tx.eraseAlertEvents(erase); err != nil {
		return 0, 0, 0, 0, err
	}
	for _, ch := range changes {
		if ch.a == nil {
			deleted++
			if err := b.Delete(ch.key); err != nil {
				return 0, 0, 0, 0, err
			}
			continue
		}
		scrubbed++
		if err := putProto(b, ch.key, ch.a); err != nil {
			return 0, 0, 0, 0, err
		}
	}
	return deleted, scrubbed, events, eventsScrubbed, nil
}
