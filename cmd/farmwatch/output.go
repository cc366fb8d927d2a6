package main

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// addOutputFlag adds --output table|json to a list or show command.
func addOutputFlag(cmd *cobra.Command, dst *string) {
	cmd.Flags().StringVarP(dst, "output", "o", "table", "output format: table or json")
}

// jsonOptions is the stable JSON of every command: protobuf field names in
// snake_case, as documented in docs/CLI.md.
var jsonOptions = protojson.MarshalOptions{Multiline: true, Indent: "  ", UseProtoNames: true}

// invalidTime is what a view shows for a stored timestamp no clock could
// mean (stores written before timestamps were checked on ingest may hold
// one): the record is still shown, in table and JSON alike.
const invalidTime = "invalid time"

func printJSON(w io.Writer, m proto.Message) error {
	b, err := marshalJSON(m)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(w, string(escapeJSON(b)))
	return err
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

func newTable(w io.Writer, headers ...string) *tabwriter.Writer {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(headers, "\t"))
	return tw
}

// row prints one table row; every cell is made terminalSafe, which also
// keeps a tab or newline in a value from breaking the table.
func row(tw *tabwriter.Writer, cols ...any) {
	s := make([]string, len(cols))
	for i, c := range cols {
		s[i] = terminalSafe(fmt.Sprint(c))
	}
	fmt.Fprintln(tw, strings.Join(s, "\t"))
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
