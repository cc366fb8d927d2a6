// Package applicants reads applicant-tracking exports (CSV, JSON lines,
// Greenhouse Harvest candidates JSON) one row at a time and normalises each
// applicant for screening. docs/APPLICANTS.md describes each format.
package applicants

import (
	"errors"
	"fmt"
	"io"
	"slices"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// Format is an import file's format.
type Format string

const (
	FormatCSV        Format = "csv"
	FormatJSONL      Format = "jsonl"
	FormatGreenhouse Format = "greenhouse"
)

// FieldError is one wrong field of one applicant, e.g. Field "phones[1]".
type FieldError struct {
	Field string
	Why   string
}

func (e FieldError) Error() string { return e.Field + ": " + e.Why }

// RowError is a problem with one row (its first line in the file).
type RowError struct {
	Line int
	ID   string
	Errs []FieldError
}

func (e *RowError) Error() string {
	return fmt.Sprintf("line %d: %v", e.Line, errors.Join(fieldErrs(e.Errs)...))
}

func fieldErrs(fs []FieldError) []error {
	out := make([]error, len(fs))
	for i, f := range fs {
		out[i] = f
	}
	return out
}

// Reader streams applicants out of a file without holding it in memory:
// one row at a time, each bounded by MaxRowBytes.
type Reader struct {
	format  Format
	rows    rowReader
	ignored []string
	err     error // the error that ended the file, returned again
	// raw: Next leaves normalising to its caller (the collector does it).
	raw bool
}

// SkipNormalize makes Next check only what reading a row checks (its shape
// and size, a CSV cell's work history items), not normalise it: for a
// client that streams a file to the collector, which normalises and checks
// every row itself.
func (r *Reader) SkipNormalize() { r.raw = true }

// NewReader reads r in format f. A CSV header missing a required column, or
// a Greenhouse file that is not a JSON array, fails here.
func NewReader(r io.Reader, f Format) (*Reader, error) {
	rd := &Reader{format: f}
	switch f {
	case FormatCSV:
		c, err := newCSVRows(r)
		if err != nil {
			return nil, err
		}
		rd.rows, rd.ignored = c, c.ignored
	case FormatJSONL:
		rd.rows = newJSONLRows(r)
	case FormatGreenhouse:
		g, err := newGreenhouseRows(r)
		if err != nil {
			return nil, err
		}
		rd.rows = g
	default:
		return nil, fmt.Errorf("format %q: want %s, %s or %s", f, FormatCSV, FormatJSONL, FormatGreenhouse)
	}
	return rd, nil
}

// Ignored names the CSV columns that are not in Columns, as the header
// spells them; an export's extra columns are ignored, not refused.
func (r *Reader) Ignored() []string { return r.ignored }

// Next returns the next applicant and the line it starts on; io.EOF at the
// end. The applicant is checked and normalised with Normalize, and its
// source_format set. A *RowError is one bad row, naming every wrong field:
// Next may be called again for the rest. Any other error ends the file.
func (r *Reader) Next() (*pb.Applicant, int, error) {
	if r.err != nil {
		return nil, 0, r.err
	}
	row, err := r.rows.next()
	if err != nil {
		r.err = err
		return nil, 0, err
	}
	a := row.a
	a.SourceFormat = string(r.format)
	errs := row.errs
	if !r.raw && !slices.ContainsFunc(errs, func(e FieldError) bool { return e.Field == "row" }) {
		// A row that could not be read whole is not checked field by field.
		errs = append(errs, Normalize(a)...)
	}
	if len(errs) > 0 {
		return a, row.line, &RowError{Line: row.line, ID: a.GetId(), Errs: errs}
	}
	return a, row.line, nil
}

// Normalize checks an applicant and fills the fields the collector sets
// (phones_normalized, emails_normalized, claimed_place, shipping_place,
// address_key, shipping_key). Imported values of those fields are discarded.
func Normalize(a *pb.Applicant) []FieldError { return normalize(a) }
