// Package applicants reads applicant-tracking exports (CSV, JSON lines,
// Greenhouse Harvest candidates JSON) one row at a time and normalises each
// applicant for screening.
//
// SKELETON: the signatures below are the contract the collector codes
// against; their bodies are written on the import branch.
package applicants

import (
	"errors"
	"fmt"
	"io"

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

// Reader streams applicants out of a file without holding it in memory.
type Reader struct{}

// NewReader reads r in format f.
func NewReader(r io.Reader, f Format) (*Reader, error) { return nil, errors.New("not built yet") }

// Next returns the next applicant and the line it starts on; io.EOF at the
// end. A *RowError is one bad row: Next may be called again for the rest.
// Any other error ends the file.
func (r *Reader) Next() (*pb.Applicant, int, error) { return nil, 0, io.EOF }

// Normalize checks an applicant and fills the fields the collector sets
// (phones_normalized, emails_normalized, claimed_place, shipping_place,
// address_key, shipping_key). Imported values of those fields are discarded.
func Normalize(a *pb.Applicant) []FieldError { return normalize(a) }
