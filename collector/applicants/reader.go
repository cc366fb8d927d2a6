package applicants

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"time"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// MaxRowBytes bounds one row (a CSV record, a JSON line, a Greenhouse
// candidate): a larger one is refused rather than held in memory.
const MaxRowBytes = 1 << 20

// errRowTooLarge ends a file whose row outgrows MaxRowBytes where the reader
// cannot find the next row's start (CSV, Greenhouse).
var errRowTooLarge = fmt.Errorf("row longer than %d bytes", MaxRowBytes)

// rowReader is one format's reader.
type rowReader interface {
	next() (*rawRow, error)
}

// rawRow is one parsed row before it is checked: the applicant and the
// problems found while reading it.
type rawRow struct {
	a    *pb.Applicant
	line int
	errs []FieldError
}

// tracker passes a file through, keeping the bytes since the current row's
// start: it maps a byte offset to its line and refuses a row that outgrows
// MaxRowBytes before the decoder holds it.
type tracker struct {
	r        io.Reader
	pending  []byte // bytes read since markOff
	markOff  int64
	markLine int // newlines before markOff
	err      error
}

func (t *tracker) Read(p []byte) (int, error) {
	if t.err != nil {
		return 0, t.err
	}
	// A decoder reads ahead, so the bound allows a buffer's worth past a row.
	if len(t.pending) > MaxRowBytes+64<<10 {
		t.err = errRowTooLarge
		return 0, t.err
	}
	n, err := t.r.Read(p)
	t.pending = append(t.pending, p[:n]...)
	return n, err
}

// mark moves the row start to off (an offset the decoder has passed) and
// returns the 1-based line off is on.
func (t *tracker) mark(off int64) int {
	k := int(off - t.markOff)
	if k < 0 || k > len(t.pending) {
		return t.markLine + 1
	}
	t.markLine += bytes.Count(t.pending[:k], []byte{'\n'})
	t.markOff = off
	t.pending = t.pending[:copy(t.pending, t.pending[k:])]
	return t.markLine + 1
}

// lineAt is the 1-based line of off, without moving the mark.
func (t *tracker) lineAt(off int64) int {
	k := int(off - t.markOff)
	if k < 0 {
		return t.markLine + 1
	}
	k = min(k, len(t.pending))
	return t.markLine + 1 + bytes.Count(t.pending[:k], []byte{'\n'})
}

// parseWhen reads an application time: RFC 3339 (a Greenhouse timestamp) or
// YYYY-MM-DD.
func parseWhen(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, nil
	}
	return time.Time{}, errors.New("want YYYY-MM-DD or an RFC 3339 time (2024-05-01T14:03:00Z)")
}
