package applicants

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// Columns are the CSV header, in any order; id and name are required. Other
// columns (an export's recruiter, stage, ...) are ignored and named by
// Reader.Ignored.
var Columns = []string{"id", "name", "emails", "phones", "claimed_address", "shipping_address", "work_history",
	"education", "profile_urls", "role", "submission_ip", "interview_time_zone", "references", "resume_text",
	"applied_at", "agency"}

type csvRows struct {
	t       *tracker
	r       *csv.Reader
	col     map[string]int // column name to index
	width   int            // the header's number of columns
	ignored []string
}

func newCSVRows(r io.Reader) (*csvRows, error) {
	t := &tracker{r: r}
	c := &csvRows{t: t, r: csv.NewReader(t), col: map[string]int{}}
	c.r.ReuseRecord = true
	header, err := c.r.Read()
	if errors.Is(err, io.EOF) {
		return nil, errors.New("line 1: empty file: want a header naming the columns (id,name,...)")
	}
	if err != nil {
		return nil, fmt.Errorf("header: %w", csvError(err))
	}
	for i, h := range header {
		name := strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		if _, dup := c.col[name]; dup {
			return nil, fmt.Errorf("line 1: column %q appears twice", name)
		}
		c.col[name] = i
		if !slices.Contains(Columns, name) {
			c.ignored = append(c.ignored, h)
		}
	}
	c.width = len(header)
	var missing []string
	for _, req := range []string{"id", "name"} {
		if _, ok := c.col[req]; !ok {
			missing = append(missing, req)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("line 1: missing column %s (the columns are %s)", strings.Join(missing, ", "), strings.Join(Columns, ","))
	}
	c.t.mark(c.r.InputOffset())
	return c, nil
}

// csvError says what a CSV parse error is in the line's words.
func csvError(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return fmt.Errorf("line %d: column %d: %w", pe.StartLine, pe.Column, pe.Err)
	}
	if errors.Is(err, errRowTooLarge) {
		return err
	}
	return fmt.Errorf("read: %w", err)
}

func (c *csvRows) next() (*rawRow, error) {
	rec, err := c.r.Read()
	if errors.Is(err, io.EOF) {
		return nil, io.EOF
	}
	var pe *csv.ParseError
	if errors.As(err, &pe) && errors.Is(pe.Err, csv.ErrFieldCount) {
		c.t.mark(c.r.InputOffset())
		return &rawRow{a: &pb.Applicant{}, line: pe.StartLine, errs: []FieldError{{"row", fmt.Sprintf("%d fields, the header has %d", len(rec), c.width)}}}, nil
	}
	if errors.Is(err, errRowTooLarge) {
		return nil, fmt.Errorf("line %d: %w", c.t.lineAt(c.t.markOff), err)
	}
	if err != nil {
		return nil, csvError(err)
	}
	// FieldPos only after a record was read whole: it panics after an error.
	line, _ := c.r.FieldPos(0)
	c.t.mark(c.r.InputOffset())
	row := &rawRow{a: &pb.Applicant{}, line: line}
	get := func(name string) string {
		if i, ok := c.col[name]; ok && i < len(rec) {
			return strings.TrimSpace(rec[i])
		}
		return ""
	}
	a := row.a
	a.Id, a.Name = get("id"), get("name")
	a.Emails, a.Phones = splitList(get("emails")), splitList(get("phones"))
	a.ClaimedAddress, a.ShippingAddress = get("claimed_address"), get("shipping_address")
	a.ProfileUrls, a.References = splitList(get("profile_urls")), splitList(get("references"))
	a.Role, a.SubmissionIp, a.InterviewTimeZone = get("role"), get("submission_ip"), get("interview_time_zone")
	a.ResumeText, a.Agency = get("resume_text"), get("agency")
	if s := get("applied_at"); s != "" {
		if t, err := parseWhen(s); err != nil {
			row.errs = append(row.errs, FieldError{"applied_at", fmt.Sprintf("%q: %v", s, err)})
		} else {
			a.AppliedAt = timestamppb.New(t)
		}
	}
	var errs []FieldError
	a.WorkHistory, errs = parseEntries(get("work_history"), "work_history", func(p []string) *pb.WorkEntry {
		return &pb.WorkEntry{Employer: p[0], Title: p[1], Start: p[2], End: p[3]}
	})
	row.errs = append(row.errs, errs...)
	a.Education, errs = parseEntries(get("education"), "education", func(p []string) *pb.EducationEntry {
		return &pb.EducationEntry{Institution: p[0], Degree: p[1], Start: p[2], End: p[3]}
	})
	row.errs = append(row.errs, errs...)
	return row, nil
}

// splitList reads a multi-valued cell: values separated by ';'.
func splitList(s string) []string {
	if s == "" {
		return nil
	}
	var out []string
	for _, v := range strings.Split(s, ";") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// parseEntries reads a work_history or education cell: items separated by
// ';', each "first|second|start|end" with trailing parts optional, or a
// JSON array of objects with the JSON-lines field names when a name holds
// ';' or '|'.
func parseEntries[E any](cell, field string, build func([]string) E) ([]E, []FieldError) {
	if cell == "" {
		return nil, nil
	}
	if strings.HasPrefix(cell, "[") {
		var holder pb.Applicant
		if err := protojson.Unmarshal([]byte(`{"`+field+`":`+cell+`}`), &holder); err != nil {
			return nil, []FieldError{{field, "JSON: " + protoMessage(err)}}
		}
		var out []E
		switch field {
		case "work_history":
			for _, w := range holder.GetWorkHistory() {
				out = append(out, any(w).(E))
			}
		case "education":
			for _, e := range holder.GetEducation() {
				out = append(out, any(e).(E))
			}
		}
		return out, nil
	}
	var out []E
	var errs []FieldError
	for i, item := range splitList(cell) {
		parts := strings.Split(item, "|")
		if len(parts) > 4 {
			errs = append(errs, FieldError{fmt.Sprintf("%s[%d]", field, i),
				fmt.Sprintf("%q: %d parts, want at most 4 (name|title or degree|start|end)", item, len(parts))})
			continue
		}
		for len(parts) < 4 {
			parts = append(parts, "")
		}
		for j := range parts {
			parts[j] = strings.TrimSpace(parts[j])
		}
		out = append(out, build(parts))
	}
	return out, errs
}

// protoMessage is a protojson error without its package prefix.
func protoMessage(err error) string {
	s := err.Error()
	s = strings.TrimPrefix(s, "proto:")
	s = strings.TrimPrefix(s, "\u00a0")
	return strings.TrimSpace(s)
}
