package store

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// Applicant returns one applicant.
func (tx *Tx) Applicant(id string) (*pb.Applicant, error) {
	a := &pb.Applicant{}
	if err := getProto(tx.tx.Bucket(bucketApplicants), []byte(id), a); err != nil {
		return nil, fmt.Errorf("applicant %q: %w", id, err)
	}
	return a, nil
}

// ApplicantExists tells whether an applicant id is taken.
func (tx *Tx) ApplicantExists(id string) bool {
	return kvGet(tx.tx.Bucket(bucketApplicants), []byte(id)) != nil
}

// PutApplicant stores an applicant and keeps the email index in step.
func (tx *Tx) PutApplicant(a *pb.Applicant) error {
	b := tx.tx.Bucket(bucketApplicants)
	emails := tx.tx.Bucket(bucketApplicantEmails)
	if v := kvGet(b, []byte(a.GetId())); v != nil {
		old := &pb.Applicant{}
		if err := proto.Unmarshal(v, old); err != nil {
			return fmt.Errorf("applicant %q: %w", a.GetId(), err)
		}
		for _, e := range old.GetEmailsNormalized() {
			if err := emails.Delete(emailKey(e.GetCanonical(), old.GetId())); err != nil {
				return err
			}
		}
	}
	for _, e := range a.GetEmailsNormalized() {
		if e.GetCanonical() == "" {
			continue
		}
		if err := kvPut(emails, emailKey(e.GetCanonical(), a.GetId()), nil); err != nil {
			return err
		}
	}
	if err := tx.bumpApplicants(); err != nil {
		return err
	}
	return putProto(b, []byte(a.GetId()), a)
}

// keyApplicantsVersion, in the meta bucket, counts the transactions that
// changed the stored applicants: a collector sharing the store with others
// keeps its screening index in memory and rebuilds it when this moved.
var keyApplicantsVersion = []byte("applicants_version")

// bumpApplicants moves the applicants' version, once per transaction.
func (tx *Tx) bumpApplicants() error {
	if tx.applicantsBumped {
		return nil
	}
	m := tx.tx.Bucket(bucketMeta)
	var v uint64
	if b := kvGet(m, keyApplicantsVersion); len(b) == 8 {
		v = binary.BigEndian.Uint64(b)
	}
	if err := kvPut(m, keyApplicantsVersion, u64(v+1)); err != nil {
		return err
	}
	tx.applicantsBumped = true
	return nil
}

// ApplicantsVersion changes with every committed transaction that stored or
// erased an applicant (0 before the first).
func (s *Store) ApplicantsVersion() (uint64, error) {
	var v uint64
	err := s.kv.View(func(tx kvTx) error {
		if b := kvGet(tx.Bucket(bucketMeta), keyApplicantsVersion); len(b) == 8 {
			v = binary.BigEndian.Uint64(b)
		}
		return nil
	})
	return v, err
}

func emailKey(canonical, id string) []byte {
	return append(append([]byte(canonical), 0), id...)
}

// HasApplicantEmails says whether any stored applicant has an email: when
// none has, no hire can be linked by email and the hire's need not be read.
func (tx *Tx) HasApplicantEmails() bool {
	k, _ := tx.tx.Bucket(bucketApplicantEmails).Cursor().First()
	return k != nil
}

// ApplicantsByEmail lists the ids of the applicants with a canonical email.
func (tx *Tx) ApplicantsByEmail(canonical string) []string {
	var out []string
	if canonical == "" {
		return nil
	}
	prefix := append([]byte(canonical), 0)
	c := tx.tx.Bucket(bucketApplicantEmails).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		out = append(out, string(k[len(prefix):]))
	}
	return out
}

// ForEachApplicant calls fn for every applicant in id order.
func (tx *Tx) ForEachApplicant(fn func(*pb.Applicant) error) error {
	return tx.tx.Bucket(bucketApplicants).ForEach(func(k, v []byte) error {
		a := &pb.Applicant{}
		if err := proto.Unmarshal(v, a); err != nil {
			return fmt.Errorf("applicant %s: %w", k, err)
		}
		return fn(a)
	})
}

// ApplicantCount is how many applicants are stored.
func (tx *Tx) ApplicantCount() int { return tx.tx.Bucket(bucketApplicants).KeyN() }

// ApplicantAlert returns an applicant's latest alert (open, or the latest
// resolved), or nil.
func (tx *Tx) ApplicantAlert(applicantID string) (*pb.Alert, error) {
	id := kvGet(tx.tx.Bucket(bucketApplicantAlerts), []byte(applicantID))
	if id == nil {
		return nil, nil
	}
	return tx.Alert(string(id))
}

// PutApplicantAlert stores an applicant's alert and remembers it as the
// applicant's latest.
func (tx *Tx) PutApplicantAlert(a *pb.Alert) error {
	if err := tx.PutAlert(a.GetApplicantId(), a); err != nil {
		return err
	}
	return kvPut(tx.tx.Bucket(bucketApplicantAlerts), []byte(a.GetApplicantId()), []byte(a.GetId()))
}

// An import of applicants is staged, committed, applied and screened:
//
//   - chunks are staged as they arrive, each in its own transaction (a
//     million-row import in one transaction would hold every dirty page in
//     memory until its commit);
//   - the commit marker is written in one transaction once every row has
//     passed: from then on the import happens, whatever crashes;
//   - staged rows are applied in batches, each batch advancing the marker's
//     cursor in the same transaction, so a restart continues where it was;
//   - the collector then screens the imported rows and drops the staging.
//
// Without a marker, staged rows are an import that never committed: they
// are discarded.

// ImportMarker is the commit record of an applicant import.
type ImportMarker struct {
	Update bool      `json:"update"`
	Format string    `json:"format"`
	Actor  string    `json:"actor"`
	At     time.Time `json:"at"`
	Rows   int       `json:"rows"`
	// Phase is "apply" until every row is stored, then "screen".
	Phase string `json:"phase"`
	// Next is the sequence of the first staged row not yet applied.
	Next      uint64 `json:"next"`
	Added     int    `json:"added"`
	Updated   int    `json:"updated"`
	Unchanged int    `json:"unchanged"`
}

// Import phases.
const (
	ImportApply  = "apply"
	ImportScreen = "screen"
)

// Each import stages its rows in a bucket of its own inside the staging
// bucket (seq -> Applicant), so that dropping it is one DeleteBucket; its
// marker is the key importID + ".marker" beside that bucket.

func markerKey(importID string) []byte { return []byte(importID + markerSuffix) }

const markerSuffix = ".marker"

// StageApplicants writes staged rows first..first+len(list)-1 of an import
// in one transaction.
func (s *Store) StageApplicants(importID string, first uint64, list []*pb.Applicant) error {
	return s.kv.Update(func(btx kvTx) error {
		b, err := btx.Bucket(bucketApplicantStaging).CreateBucketIfNotExists([]byte(importID))
		if err != nil {
			return fmt.Errorf("stage import %s: %w", importID, err)
		}
		for i, a := range list {
			if err := putProto(b, u64(first+uint64(i)), a); err != nil {
				return fmt.Errorf("stage applicant %q: %w", a.GetId(), err)
			}
		}
		return nil
	})
}

// CommitImport writes an import's marker: the import is then durable.
func (s *Store) CommitImport(importID string, m ImportMarker) error {
	m.Phase, m.Next = ImportApply, 0
	return s.kv.Update(func(btx kvTx) error { return putMarker(btx, importID, m) })
}

func putMarker(btx kvTx, importID string, m ImportMarker) error {
	v, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return kvPut(btx.Bucket(bucketApplicantStaging), markerKey(importID), v)
}

func getMarker(btx kvTx, importID string) (ImportMarker, bool, error) {
	var m ImportMarker
	v := kvGet(btx.Bucket(bucketApplicantStaging), markerKey(importID))
	if v == nil {
		return m, false, nil
	}
	if err := json.Unmarshal(v, &m); err != nil {
		return m, false, fmt.Errorf("import %s: marker: %w", importID, err)
	}
	return m, true, nil
}

// stagingBatch bounds the rows one transaction applies.
const stagingBatch = 2000

// ApplyImport stores the staged rows of a committed import in batches and
// moves it to the screen phase, writing the audit entry with its counts.
// After each batch commits, applied (when set) gets the rows it stored.
func (s *Store) ApplyImport(importID string, now time.Time, applied func([]*pb.Applicant)) (ImportMarker, error) {
	for {
		var m ImportMarker
		var batch []*pb.Applicant
		err := s.kv.Update(func(btx kvTx) error {
			batch = batch[:0] // an attempt the engine ran again left nothing
			var ok bool
			var err error
			if m, ok, err = getMarker(btx, importID); err != nil {
				return err
			} else if !ok {
				return fmt.Errorf("import %s: no commit marker", importID)
			}
			if m.Phase != ImportApply {
				return nil
			}
			tx := &Tx{tx: btx, s: s}
			var k, v []byte
			if rows := btx.Bucket(bucketApplicantStaging).Bucket([]byte(importID)); rows != nil {
				c := rows.Cursor()
				for k, v = c.Seek(u64(m.Next)); k != nil && len(batch) < stagingBatch; k, v = c.Next() {
					a := &pb.Applicant{}
					if err := proto.Unmarshal(v, a); err != nil {
						return fmt.Errorf("import %s: staged row: %w", importID, err)
					}
					if err := tx.applyStaged(a, &m, now); err != nil {
						return err
					}
					batch = append(batch, a)
					m.Next = binary.BigEndian.Uint64(k) + 1
				}
			}
			if k == nil {
				m.Phase = ImportScreen
				detail := fmt.Sprintf("%d rows (%s): %d added, %d updated, %d unchanged", m.Rows, m.Format, m.Added, m.Updated, m.Unchanged)
				if m.Update {
					detail += "; import --update"
				}
				if err := tx.Audit(now, m.Actor, "applicant.import", importID, detail); err != nil {
					return err
				}
			}
			return putMarker(btx, importID, m)
		})
		if err != nil {
			return m, err
		}
		if applied != nil && len(batch) > 0 {
			applied(batch)
		}
		if m.Phase != ImportApply {
			return m, nil
		}
	}
}

// applyStaged stores one staged row: a new applicant, or a changed one
// keeping what the collector set (created, hire link).
func (tx *Tx) applyStaged(a *pb.Applicant, m *ImportMarker, now time.Time) error {
	old, err := tx.Applicant(a.GetId())
	if err != nil {
		a.CreatedAt = timestamppb.New(now)
		m.Added++
		return tx.PutApplicant(a)
	}
	a.CreatedAt, a.HireId, a.UpdatedAt = old.GetCreatedAt(), old.GetHireId(), old.GetUpdatedAt()
	if proto.Equal(old, a) {
		m.Unchanged++
		return nil
	}
	a.UpdatedAt = timestamppb.New(now)
	m.Updated++
	return tx.PutApplicant(a)
}

// StagedApplicants reads up to n staged rows of an import from sequence
// from, stopping before sequence until (0: no bound); next is where to
// continue (0 at the end).
func (s *Store) StagedApplicants(importID string, from, until uint64, n int) (out []*pb.Applicant, next uint64, err error) {
	err = s.kv.View(func(btx kvTx) error {
		out, next = out[:0], 0 // per attempt
		rows := btx.Bucket(bucketApplicantStaging).Bucket([]byte(importID))
		if rows == nil {
			return nil
		}
		c := rows.Cursor()
		for k, v := c.Seek(u64(from)); k != nil; k, v = c.Next() {
			seq := binary.BigEndian.Uint64(k)
			if until > 0 && seq >= until {
				return nil
			}
			if len(out) == n {
				next = seq
				return nil
			}
			a := &pb.Applicant{}
			if err := proto.Unmarshal(v, a); err != nil {
				return fmt.Errorf("import %s: staged row: %w", importID, err)
			}
			out = append(out, a)
		}
		return nil
	})
	return out, next, err
}

// DiscardImport deletes an import's staged rows and marker.
func (s *Store) DiscardImport(importID string) error {
	return s.kv.Update(func(btx kvTx) error {
		b := btx.Bucket(bucketApplicantStaging)
		if b.Bucket([]byte(importID)) != nil {
			if err := b.DeleteBucket([]byte(importID)); err != nil {
				return err
			}
		}
		return b.Delete(markerKey(importID))
	})
}

// PendingImports lists the committed imports not yet finished, oldest
// first, and discards staging that never committed.
func (s *Store) PendingImports() ([]string, error) {
	var committed, stale []string
	err := s.kv.View(func(btx kvTx) error {
		committed, stale = nil, nil
		markers := map[string]bool{}
		b := btx.Bucket(bucketApplicantStaging)
		// The markers are keys, the staged rows nested buckets, which
		// ForEach does not visit.
		if err := b.ForEach(func(k, _ []byte) error {
			if id, ok := strings.CutSuffix(string(k), markerSuffix); ok {
				markers[id] = true
				committed = append(committed, id)
			}
			return nil
		}); err != nil {
			return err
		}
		return b.ForEachBucket(func(name []byte) error {
			if !markers[string(name)] {
				stale = append(stale, string(name))
			}
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	for _, id := range stale {
		if err := s.DiscardImport(id); err != nil {
			return nil, err
		}
	}
	return committed, nil
}

// Import reads an import's marker.
func (s *Store) Import(importID string) (m ImportMarker, ok bool, err error) {
	err = s.kv.View(func(btx kvTx) error {
		m, ok, err = getMarker(btx, importID)
		return err
	})
	return m, ok, err
}
