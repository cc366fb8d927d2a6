package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Output helpers, for every command of this binary (a new command uses these
// and nothing else, so every command prints alike):
//
//	addOutputFlag(cmd, &output)      --output/-o table|json|wide
//	checkOutput(output)              a usage error (exit 2) for any other value
//	printJSON(w, msg)                stable JSON: snake_case names, two-space indent,
//	                                 empty top-level lists as [] (never omitted)
//	t := newTableFor(w, output, "ID", "WHEN", "SUMMARY").shrink("SUMMARY")
//	row(t, id, when(ts), s); t.Flush()  a table fitted to 120 columns: the shrink
//	                                 columns (free text) give way first, long cells
//	                                 end in an ellipsis, never wrap; -o wide keeps them whole
//	when(ts)                         "2026-11-30 09:12 (3h ago)": a time with its age,
//	                                 against clock (swapped in tests)
//	ts(ts)                           RFC 3339, for show pages and logs
//	orDash(s)                        "-" for an empty cell
//	usagef(format, ...)              (main.go) a usage mistake: exit 2; other errors exit 1

// tableWidth is the width tables fit by default: a reviewer's queue needs
// more than 80 columns, and a table that wraps cannot be read at all.
const tableWidth = 120

// clock is what the relative ages in tables are measured against.
var clock = time.Now

// addOutputFlag adds --output/-o table|json|wide to a command.
func addOutputFlag(cmd *cobra.Command, dst *string) {
	cmd.Flags().StringVarP(dst, "output", "o", "table", "output format: table, json, or wide (a table with no cell shortened)")
}

// checkOutput refuses an --output value that is not table, json or wide.
func checkOutput(output string) error {
	switch output {
	case "table", "json", "wide":
		return nil
	}
	return usagef("--output %q: want table, json or wide", output)
}

// orDash shows an empty value as "-" in a table.
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// jsonOptions is the stable JSON of every command: protobuf field names in
// snake_case, as documented in docs/CLI.md.
var jsonOptions = protojson.MarshalOptions{UseProtoNames: true}

// invalidTime is what a view shows for a stored timestamp no clock could
// mean (stores written before timestamps were checked on ingest may hold
// one): the record is still shown, in table and JSON alike.
const invalidTime = "invalid time"

func printJSON(w io.Writer, m proto.Message) error {
	b, err := marshalJSON(m)
	if err != nil {
		return err
	}
	if b, err = withEmptyLists(b, m.ProtoReflect().Descriptor()); err != nil {
		return err
	}
	// protojson varies its whitespace on purpose; scripts and golden files want one form.
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		return err
	}
	_, err = fmt.Fprintln(w, string(escapeJSON(out.Bytes())))
	return err
}

// withEmptyLists writes the top-level repeated and map fields protojson
// leaves out when empty, as [] and {}, in field order: a script reads
// {"alerts": []}, never {}.
func withEmptyLists(b []byte, md protoreflect.MessageDescriptor) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, fmt.Errorf("marshalled %s is not a JSON object", md.FullName())
	}
	fields := map[string]json.RawMessage{}
	var order []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, _ := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		fields[key] = v
		order = append(order, key)
	}
	missing := false
	for i := 0; i < md.Fields().Len(); i++ {
		fd := md.Fields().Get(i)
		if _, ok := fields[string(fd.Name())]; !ok && (fd.IsList() || fd.IsMap()) {
			missing = true
		}
	}
	if !missing {
		return b, nil
	}
	var out bytes.Buffer
	out.WriteByte('{')
	put := func(key string, v []byte) {
		if out.Len() > 1 {
			out.WriteByte(',')
		}
		k, _ := json.Marshal(key)
		out.Write(k)
		out.WriteByte(':')
		out.Write(v)
	}
	done := map[string]bool{}
	for i := 0; i < md.Fields().Len(); i++ {
		fd := md.Fields().Get(i)
		name := string(fd.Name())
		switch v, ok := fields[name]; {
		case ok:
			put(name, v)
		case fd.IsList():
			put(name, []byte("[]"))
		case fd.IsMap():
			put(name, []byte("{}"))
		}
		done[name] = true
	}
	for _, k := range order { // anything protojson named otherwise, kept as it was
		if !done[k] {
			put(k, fields[k])
		}
	}
	out.WriteByte('}')
	return out.Bytes(), nil
}

// marshalJSON is protojson with invalid timestamps shown as "invalid time":
// protojson refuses to print them, which would hide the whole record.
func marshalJSON(m proto.Message) ([]byte, error) {
	bad, valid := timestamps(m.ProtoReflect())
	if len(bad) == 0 {
		return jsonOptions.Marshal(m)
	}
	// Each bad timestamp is marshalled as a sentinel time, and the sentinel
	// then replaced by the words: one no valid timestamp and no other text
	// of the record spells, so that only the bad ones are replaced.
	m = proto.Clone(m)
	bad, _ = timestamps(m.ProtoReflect())
	for nanos := int32(1); ; nanos++ {
		sentinel := &timestamppb.Timestamp{Seconds: -62135596800, Nanos: nanos} // 0001-01-01T00:00:00Z and nanos
		if valid[sentinel.AsTime()] {
			continue
		}
		for _, ts := range bad {
			ts.Seconds, ts.Nanos = sentinel.Seconds, sentinel.Nanos
		}
		b, err := jsonOptions.Marshal(m)
		if err != nil {
			return nil, err
		}
		quoted, err := protojson.Marshal(sentinel)
		if err != nil {
			return nil, err
		}
		if bytes.Count(b, quoted) == len(bad) {
			return bytes.ReplaceAll(b, quoted, []byte(`"`+invalidTime+`"`)), nil
		}
	}
}

// timestamps finds the timestamps under m: the invalid ones, and the times
// of the valid ones.
func timestamps(m protoreflect.Message) (bad []*timestamppb.Timestamp, valid map[time.Time]bool) {
	valid = map[time.Time]bool{}
	var visit func(protoreflect.Message)
	visit = func(m protoreflect.Message) {
		if ts, ok := m.Interface().(*timestamppb.Timestamp); ok {
			if ts.CheckValid() != nil {
				bad = append(bad, ts)
			} else {
				valid[ts.AsTime()] = true
			}
			return
		}
		m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
			switch {
			case fd.IsList() && fd.Message() != nil:
				for i := 0; i < v.List().Len(); i++ {
					visit(v.List().Get(i).Message())
				}
			case fd.IsMap() && fd.MapValue().Message() != nil:
				v.Map().Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool {
					visit(mv.Message())
					return true
				})
			case !fd.IsList() && !fd.IsMap() && fd.Message() != nil:
				visit(v.Message())
			}
			return true
		})
	}
	visit(m)
	return bad, valid
}

// escapeJSON writes, as \u escapes, the characters a terminal may act on
// that JSON allows raw (DEL, C1 controls, bidirectional overrides, line and
// paragraph separators). protojson already escapes C0 controls, ESC
// included; outside strings JSON is ASCII, so this touches strings only.
func escapeJSON(b []byte) []byte {
	raw := func(r rune) bool { return r >= 0x7f && unsafeRune(r) }
	if !bytes.ContainsFunc(b, raw) {
		return b
	}
	var out bytes.Buffer
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		if raw(r) {
			fmt.Fprintf(&out, `\u%04x`, r)
		} else {
			out.Write(b[:n])
		}
		b = b[n:]
	}
	return out.Bytes()
}

// unsafeRune tells the characters a terminal may act on rather than print:
// C0 controls (ESC starts CSI and OSC sequences, CR rewrites a line), DEL,
// C1 controls (U+009B is CSI on its own), the bidirectional controls that
// reorder what follows (U+202E), and the line and paragraph separators.
func unsafeRune(r rune) bool {
	switch {
	case r < 0x20, r >= 0x7f && r <= 0x9f:
		return true
	case r == 0x061c, r == 0x200e, r == 0x200f, r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
		return true
	case r == 0x2028, r == 0x2029:
		return true
	}
	return false
}

// terminalSafe returns s with everything a terminal could act on written
// out as an escape (\x1b, \r, \u202e, ...), and bytes that are not UTF-8 as
// \xNN: what a laptop put in a hostname, an SSID or a USB name is shown,
// never executed, in every table cell and line the CLI prints.
func terminalSafe(s string) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		case unsafeRune(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// printf is fmt.Fprintf with every string argument made terminalSafe: the
// CLI's show pages print laptop-supplied strings through it.
func printf(w io.Writer, format string, args ...any) {
	for i, a := range args {
		if s, ok := a.(string); ok {
			args[i] = terminalSafe(s)
		}
	}
	fmt.Fprintf(w, format, args...)
}

// table is a text table that fits tableWidth columns unless wide: the
// elastic columns (free text: names, summaries) give way first, then the
// widest, never below their header; a cell longer than its column ends in
// "…". Ids and times stay whole when the elastic columns can give enough.
type table struct {
	w       io.Writer
	wide    bool
	rows    [][]string
	elastic []int
}

// newTable is a table fitted to 120 columns.
func newTable(w io.Writer, headers ...string) *table { return newTableFor(w, "table", headers...) }

// newTableFor is a table for --output: fitted to 120 columns, or whole for wide.
func newTableFor(w io.Writer, output string, headers ...string) *table {
	return &table{w: w, wide: output == "wide", rows: [][]string{headers}}
}

// shrink names the columns, by header, that give way first when the table
// is too wide: the free text, never an id a reviewer copies.
func (t *table) shrink(headers ...string) *table {
	for i, h := range t.rows[0] {
		if slices.Contains(headers, strings.TrimSpace(h)) {
			t.elastic = append(t.elastic, i)
		}
	}
	return t
}

// row adds one table row; every cell is made terminalSafe, which also
// keeps a tab or newline in a value from breaking the table.
func row(t *table, cols ...any) {
	s := make([]string, len(cols))
	for i, c := range cols {
		s[i] = terminalSafe(fmt.Sprint(c))
	}
	t.rows = append(t.rows, s)
}

// Flush writes the table.
func (t *table) Flush() error {
	const gap = 2
	var widths []int
	for _, r := range t.rows {
		for i, c := range r {
			if i >= len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], utf8.RuneCountInString(c))
		}
	}
	if !t.wide {
		headers := make([]int, len(widths))
		for i, h := range t.rows[0] {
			headers[i] = utf8.RuneCountInString(h)
		}
		fitWidths(widths, headers, t.elastic, tableWidth-gap*(len(widths)-1))
	}
	var b strings.Builder
	for _, r := range t.rows {
		var line strings.Builder
		for i, c := range r {
			c = truncate(c, widths[i])
			line.WriteString(c)
			if i < len(r)-1 {
				line.WriteString(strings.Repeat(" ", widths[i]-utf8.RuneCountInString(c)+gap))
			}
		}
		b.WriteString(strings.TrimRight(line.String(), " "))
		b.WriteByte('\n')
	}
	_, err := io.WriteString(t.w, b.String())
	return err
}

// minColumn is the narrowest a column is squeezed to: a few letters and "…".
const minColumn = 6

// fitWidths narrows columns until the widths sum to at most budget: first
// the elastic ones, widest first, down to minColumn; then the widest of all,
// down to its header. What still does not fit is left whole.
func fitWidths(widths, headers, elastic []int, budget int) {
	total := 0
	for _, w := range widths {
		total += w
	}
	narrow := func(candidates []int, floor func(int) int) {
		for total > budget {
			widest := -1
			for _, i := range candidates {
				if widths[i] > floor(i) && (widest < 0 || widths[i] > widths[widest]) {
					widest = i
				}
			}
			if widest < 0 {
				return
			}
			widths[widest]--
			total--
		}
	}
	narrow(elastic, func(int) int { return minColumn })
	all := make([]int, len(widths))
	for i := range all {
		all[i] = i
	}
	narrow(all, func(i int) int { return max(minColumn, headers[i]) })
}

// truncate shortens s to width runes, its last one an ellipsis.
func truncate(s string, width int) string {
	if utf8.RuneCountInString(s) <= width {
		return s
	}
	r := []rune(s)
	return string(r[:width-1]) + "…"
}

// when is a time for a table: minutes in UTC and how long ago it was,
// "2026-11-30 09:12 (3h ago)".
func when(t *timestamppb.Timestamp) string {
	if t == nil {
		return "-"
	}
	if t.CheckValid() != nil {
		return invalidTime
	}
	at := t.AsTime().UTC()
	return at.Format("2006-01-02 15:04") + " (" + age(clock().Sub(at)) + ")"
}

// age is a duration as a person says it: the largest unit, rounded down.
func age(d time.Duration) string {
	suffix := " ago"
	if d < 0 {
		d, suffix = -d, " from now"
	}
	switch {
	case d < time.Minute:
		return "now"
	case d < time.Hour:
		return fmt.Sprintf("%dm%s", int(d/time.Minute), suffix)
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%s", int(d/time.Hour), suffix)
	default:
		return fmt.Sprintf("%dd%s", int(d/(24*time.Hour)), suffix)
	}
}

func ts(t *timestamppb.Timestamp) string {
	if t == nil {
		return "-"
	}
	if t.CheckValid() != nil {
		return invalidTime
	}
	return t.AsTime().UTC().Format(time.RFC3339)
}
