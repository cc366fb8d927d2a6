package applicants

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"

	"google.golang.org/protobuf/encoding/protojson"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

type jsonlRows struct {
	r    *bufio.Reader
	line int
	buf  []byte
}

func newJSONLRows(r io.Reader) *jsonlRows {
	return &jsonlRows{r: bufio.NewReaderSize(r, 64<<10)}
}

// readLine returns the next line without its newline; too reports a line
// past MaxRowBytes, whose rest is skipped.
func (j *jsonlRows) readLine() (line []byte, too bool, err error) {
	j.buf = j.buf[:0]
	for {
		chunk, err := j.r.ReadSlice('\n')
		if !too {
			if len(j.buf)+len(chunk) > MaxRowBytes {
				too = true
				j.buf = j.buf[:0]
			} else {
				j.buf = append(j.buf, chunk...)
			}
		}
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case err != nil && (len(j.buf) > 0 || too):
			if errors.Is(err, io.EOF) {
				return j.buf, too, nil
			}
			return nil, false, err
		case err != nil:
			return nil, false, err
		}
		return bytes.TrimSuffix(j.buf, []byte{'\n'}), too, nil
	}
}

func (j *jsonlRows) next() (*rawRow, error) {
	for {
		data, too, err := j.readLine()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil, io.EOF
			}
			return nil, fmt.Errorf("line %d: read: %w", j.line+1, err)
		}
		j.line++
		if too {
			return &rawRow{a: &pb.Applicant{}, line: j.line, errs: []FieldError{{"row", errRowTooLarge.Error()}}}, nil
		}
		if len(bytes.TrimSpace(data)) == 0 {
			continue
		}
		row := &rawRow{a: &pb.Applicant{}, line: j.line}
		if err := protojson.Unmarshal(data, row.a); err != nil {
			row.errs = jsonFieldErrors(data)
			if len(row.errs) == 0 {
				row.errs = []FieldError{{"row", protoMessage(err)}}
			}
		}
		return row, nil
	}
}

// jsonFieldErrors names the fields of a JSON line that do not decode: the
// slow path, taken only for a bad line.
func jsonFieldErrors(data []byte) []FieldError {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(data, &fields); err != nil {
		return []FieldError{{"row", "not a JSON object: " + err.Error()}}
	}
	var errs []FieldError
	for _, k := range slices.Sorted(maps.Keys(fields)) {
		one, _ := json.Marshal(map[string]json.RawMessage{k: fields[k]})
		if err := protojson.Unmarshal(one, &pb.Applicant{}); err != nil {
			name := k
			if name == "" {
				name = `""` // a key that is empty still needs a name in the message
			}
			errs = append(errs, FieldError{name, protoMessage(err)})
		}
	}
	return errs
}
