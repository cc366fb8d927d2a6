package store

import (
	"bytes"
	"errors"
	"slices"
	"strings"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// ApplicantErasure counts what EraseApplicant removed and scrubbed.
type ApplicantErasure struct {
	Alerts, AlertsScrubbed, AuditRedacted int
	// AlertEvents are events of the applicant's alerts, reduced to the
	// alert's id; AlertEventsScrubbed events of other alerts that named them.
	AlertEvents, AlertEventsScrubbed int
	// HireUnlinked is the hire that was this applicant (it stays), or "".
	HireUnlinked string
}

// ApplicantPersonalData lists the strings of an applicant that an erasure
// must not leave in the audit trail: name, contact details and addresses as
// given, longest first.
func ApplicantPersonalData(a *pb.Applicant) []string {
	var out []string
	for _, s := range slices.Concat([]string{a.GetName(), a.GetClaimedAddress(), a.GetShippingAddress()},
		a.GetEmails(), a.GetPhones()) {
		if s = strings.TrimSpace(s); len(s) >= 3 && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	slices.SortFunc(out, func(a, b string) int { return len(b) - len(a) })
	return out
}

// EraseApplicant deletes an applicant and what is kept about them: the
// record, its email index entries, its own alerts; it clears the link of
// the hire they became (the hire stays), takes their id and name out of
// every other alert (a ring member's lines name the others) and their
// personal data out of earlier audit entries. Alerts of the applicants tied
// to them are screened again by the caller, in the same transaction.
func (tx *Tx) EraseApplicant(id string) (ApplicantErasure, error) {
	var n ApplicantErasure
	ap, err := tx.Applicant(id)
	if err != nil {
		return n, err
	}
	emails := tx.tx.Bucket(bucketApplicantEmails)
	for _, e := range ap.GetEmailsNormalized() {
		if err := emails.Delete(emailKey(e.GetCanonical(), id)); err != nil {
			return n, err
		}
	}
	if err := tx.tx.Bucket(bucketApplicantAlerts).Delete([]byte(id)); err != nil {
		return n, err
	}
	if hid := ap.GetHireId(); hid != "" {
		h, err := tx.Hire(hid)
		switch {
		case err == nil && h.GetApplicantId() == id:
			h.ApplicantId = ""
			if err := tx.PutHire(h); err != nil {
				return n, err
			}
			n.HireUnlinked = hid
		case err != nil && !errors.Is(err, ErrNotFound):
			return n, err
		}
	}
	if err := tx.eraseApplicantAlerts(ap, &n); err != nil {
		return n, err
	}
	if err := tx.redactAuditApplicant(ap, &n); err != nil {
		return n, err
	}
	if err := tx.bumpApplicants(); err != nil {
		return n, err
	}
	return n, tx.tx.Bucket(bucketApplicants).Delete([]byte(id))
}

// eraseApplicantAlerts deletes the applicant's own alerts and scrubs the
// others: their id, "id (name)" as the evidence names them, and their name
// unless it is the alert's own applicant's name too (a borrowed identity
// applying twice: the other application keeps its own name).
func (tx *Tx) eraseApplicantAlerts(ap *pb.Applicant, n *ApplicantErasure) error {
	id, name := ap.GetId(), strings.TrimSpace(ap.GetName())
	idx := tx.tx.Bucket(bucketAlertIndex)
	erase := func(a *pb.Alert) (drop, changed bool) {
		if a.GetApplicantId() == id {
			return true, false
		}
		if i := slices.Index(a.GetRelatedApplicants(), id); i >= 0 {
			a.RelatedApplicants, changed = slices.Delete(a.RelatedApplicants, i, i+1), true
		}
		// Whether the alert's own applicant bears the name too, read only
		// when the name appears.
		var ownName *bool
		scrubName := func() bool {
			if ownName == nil {
				same := false
				if a.GetApplicantId() != "" {
					own, err := tx.Applicant(a.GetApplicantId())
					same = err == nil && strings.EqualFold(strings.TrimSpace(own.GetName()), name)
				}
				ownName = &same
			}
			return !*ownName
		}
		clean := func(s string) (string, bool) {
			out := s
			if name != "" {
				out = strings.ReplaceAll(out, id+" ("+name+")", erasedText)
			}
			out = replaceToken(out, id, erasedText)
			if len(name) >= 3 && strings.Contains(out, name) && scrubName() {
				out = strings.ReplaceAll(out, name, erasedText)
			}
			return out, out != s
		}
		return false, scrubWith(a.ProtoReflect(), clean) || changed
	}
	var err error
	if n.Alerts, n.AlertsScrubbed, n.AlertEvents, n.AlertEventsScrubbed, err = tx.applyAlertErasure(erase); err != nil {
		return err
	}
	// The open-alert index: applicant 0 kind -> alert id.
	prefix := append([]byte(id), 0)
	var doomed [][]byte
	ic := idx.Cursor()
	for k, _ := ic.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = ic.Next() {
		doomed = append(doomed, bytes.Clone(k))
	}
	for _, k := range doomed {
		if err := idx.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// redactAuditApplicant rewrites the detail of earlier entries that name the
// applicant's personal data; who did what, when, to which id, stays.
func (tx *Tx) redactAuditApplicant(ap *pb.Applicant, n *ApplicantErasure) error {
	var e Erasure
	personal := ApplicantPersonalData(ap)
	if name := strings.TrimSpace(ap.GetName()); name != "" {
		personal = append([]string{ap.GetId() + " (" + name + ")"}, personal...)
	}
	if err := tx.redactAudit(nil, personal, &e); err != nil {
		return err
	}
	n.AuditRedacted = e.AuditRedacted
	return nil
}

// replaceToken replaces tok in s where it stands as a whole id: "R-1" in
// "R-1, R-2" or "R-1." but not in "R-10" or "XR-1".
func replaceToken(s, tok, with string) string {
	if tok == "" || !strings.Contains(s, tok) {
		return s
	}
	var b strings.Builder
	for {
		i := strings.Index(s, tok)
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		end := i + len(tok)
		whole := (i == 0 || !idByte(s[i-1])) && (end == len(s) || !idByte(s[end]))
		b.WriteString(s[:i])
		if whole {
			b.WriteString(with)
		} else {
			b.WriteString(tok)
		}
		s = s[end:]
	}
}

func idByte(c byte) bool {
	return c == '-' || c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}
