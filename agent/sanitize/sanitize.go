// Package sanitize makes a collected report one the collector will accept,
// whatever the laptop's strings hold: bytes that are not UTF-8 are escaped,
// strings and lists are cut to the collector's limits, and timestamps no
// clock could mean are removed. It walks the report through protobuf
// reflection, so a field added to the report is covered without an edit here.
//
// A laptop's strings are whatever its OS hands over: a neighbour's SSID in
// Latin-1 or GBK, a hostname or an interface name set to any bytes, a USB
// descriptor in a legacy code page. protobuf refuses to marshal a string
// field that is not UTF-8, so one such byte anywhere would stop the agent
// from spooling anything at all.
package sanitize

import (
	"sort"
	"strings"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/farmwatch/farmwatch/internal/reportlimit"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// Changes says what Report changed.
type Changes struct {
	// Escaped counts strings that held bytes that are not UTF-8.
	Escaped int
	// Cut names the fields (full names) whose strings or lists were cut
	// to their limit, and Cleared those whose timestamp was removed.
	Cut     []string
	Cleared []string
}

// Changed tells whether anything was cut or removed (escaping alone keeps
// every byte, so it is not counted here).
func (c Changes) Changed() bool { return len(c.Cut) > 0 || len(c.Cleared) > 0 }

// String is the sentence the report's error list carries about the changes.
func (c Changes) String() string {
	var parts []string
	if len(c.Cut) > 0 {
		parts = append(parts, "cut to the collector's limits: "+strings.Join(c.Cut, ", "))
	}
	if len(c.Cleared) > 0 {
		parts = append(parts, "timestamps out of range removed: "+strings.Join(c.Cleared, ", "))
	}
	return strings.Join(parts, "; ")
}

// Report sanitizes r in place and says what it changed. It never fails:
// afterwards r marshals, and its size is within reportlimit.MaxReportBytes.
func Report(r *pb.Report) Changes {
	w := walker{cut: map[string]bool{}, cleared: map[string]bool{}}
	w.message(r.ProtoReflect())
	for proto.Size(r) > reportlimit.MaxReportBytes {
		if !w.halveLargestList(r.ProtoReflect()) {
			break // no list left to shorten; strings alone cannot get here
		}
	}
	return Changes{Escaped: w.escaped, Cut: keys(w.cut), Cleared: keys(w.cleared)}
}

type walker struct {
	escaped int
	cut     map[string]bool
	cleared map[string]bool
}

var timestampName = (&timestamppb.Timestamp{}).ProtoReflect().Descriptor().FullName()

func (w *walker) message(m protoreflect.Message) {
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsList():
			w.list(m, fd, v.List())
		case fd.IsMap():
			w.mapField(m, fd, v.Map())
		case fd.Kind() == protoreflect.MessageKind || fd.Kind() == protoreflect.GroupKind:
			if w.badTimestamp(v.Message()) {
				m.Clear(fd)
				w.cleared[string(fd.FullName())] = true
				return true
			}
			w.message(v.Message())
		default:
			if nv, ok := w.scalar(fd, v); ok {
				m.Set(fd, nv)
			}
		}
		return true
	})
}

func (w *walker) list(m protoreflect.Message, fd protoreflect.FieldDescriptor, l protoreflect.List) {
	if max := reportlimit.List(fd); l.Len() > max {
		l.Truncate(max)
		w.cut[string(fd.FullName())] = true
	}
	isMessage := fd.Kind() == protoreflect.MessageKind || fd.Kind() == protoreflect.GroupKind
	for i := 0; i < l.Len(); i++ {
		if !isMessage {
			if nv, ok := w.scalar(fd, l.Get(i)); ok {
				l.Set(i, nv)
			}
			continue
		}
		if w.badTimestamp(l.Get(i).Message()) {
			// A list entry cannot be left empty: drop it and look at the
			// entry that took its place.
			removeAt(l, i)
			i--
			w.cleared[string(fd.FullName())] = true
			continue
		}
		w.message(l.Get(i).Message())
	}
	if l.Len() == 0 {
		m.Clear(fd)
	}
}

func removeAt(l protoreflect.List, i int) {
	for j := i + 1; j < l.Len(); j++ {
		l.Set(j-1, l.Get(j))
	}
	l.Truncate(l.Len() - 1)
}

func (w *walker) mapField(m protoreflect.Message, fd protoreflect.FieldDescriptor, mp protoreflect.Map) {
	type entry struct {
		k protoreflect.MapKey
		v protoreflect.Value
	}
	var keep []entry
	changed := false
	mp.Range(func(k protoreflect.MapKey, v protoreflect.Value) bool {
		if len(keep) >= reportlimit.List(fd) {
			changed = true
			w.cut[string(fd.FullName())] = true
			return false
		}
		if nk, ok := w.scalar(fd.MapKey(), k.Value()); ok {
			k, changed = nk.MapKey(), true
		}
		switch vd := fd.MapValue(); vd.Kind() {
		case protoreflect.MessageKind, protoreflect.GroupKind:
			w.message(v.Message())
		default:
			if nv, ok := w.scalar(vd, v); ok {
				v, changed = nv, true
			}
		}
		keep = append(keep, entry{k, v})
		return true
	})
	if !changed {
		return
	}
	// Keys may have changed: rebuild the map rather than edit it while ranging.
	fresh := m.NewField(fd).Map()
	for _, e := range keep {
		fresh.Set(e.k, e.v)
	}
	m.Set(fd, protoreflect.ValueOfMap(fresh))
}

// scalar returns the sanitized value of a string or bytes value, and
// whether it differs.
func (w *walker) scalar(fd protoreflect.FieldDescriptor, v protoreflect.Value) (protoreflect.Value, bool) {
	switch fd.Kind() {
	case protoreflect.StringKind:
		s, escaped, cut := Clean(v.String(), reportlimit.String(fd))
		if escaped {
			w.escaped++
		}
		if cut {
			w.cut[string(fd.FullName())] = true
		}
		if escaped || cut {
			return protoreflect.ValueOfString(s), true
		}
	case protoreflect.BytesKind:
		if b, max := v.Bytes(), reportlimit.String(fd); len(b) > max {
			w.cut[string(fd.FullName())] = true
			return protoreflect.ValueOfBytes(b[:max]), true
		}
	}
	return v, false
}

func (w *walker) badTimestamp(m protoreflect.Message) bool {
	if m.Descriptor().FullName() != timestampName {
		return false
	}
	ts, ok := m.Interface().(*timestamppb.Timestamp)
	return ok && ts.CheckValid() != nil
}

// Clean returns s as valid UTF-8 of at most max bytes: every byte that is
// not part of a UTF-8 sequence becomes the four characters \xNN (its value
// in lower-case hex), and the result is cut at a character boundary. The
// escape keeps the byte rather than dropping it or writing U+FFFD: two
// neighbours' Latin-1 SSIDs stay two different names, and a reviewer can
// still read "Caf\xe9" as the "Café" it was, in the notation Go, Python and
// C print for a byte. escaped says whether a byte was escaped, cut whether
// the result was cut.
func Clean(s string, max int) (out string, escaped, cut bool) {
	if len(s) <= max && utf8.ValidString(s) {
		return s, false, false
	}
	var b strings.Builder
	b.Grow(min(len(s), max))
	const hex = "0123456789abcdef"
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		piece := s[i : i+size]
		if r == utf8.RuneError && size == 1 {
			piece = `\x` + string(hex[s[i]>>4]) + string(hex[s[i]&0xf])
			escaped = true
		}
		if b.Len()+len(piece) > max {
			cut = true
			break
		}
		b.WriteString(piece)
		i += size
	}
	return b.String(), escaped, cut
}

// halveLargestList finds the list, anywhere in m, whose entries take the
// most bytes, and keeps its first half. It returns false when m holds no
// list with more than one entry.
func (w *walker) halveLargestList(m protoreflect.Message) bool {
	var best protoreflect.List
	var bestName string
	bestSize := -1
	var visit func(protoreflect.Message)
	visit = func(m protoreflect.Message) {
		m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
			switch {
			case fd.IsList():
				l := v.List()
				isMessage := fd.Kind() == protoreflect.MessageKind
				size := 0
				for i := 0; i < l.Len(); i++ {
					if isMessage {
						size += proto.Size(l.Get(i).Message().Interface())
						visit(l.Get(i).Message())
					} else if fd.Kind() == protoreflect.StringKind {
						size += len(l.Get(i).String())
					} else {
						size += 8
					}
				}
				if l.Len() > 1 && size > bestSize {
					best, bestName, bestSize = l, string(fd.FullName()), size
				}
			case fd.Message() != nil && !fd.IsMap():
				visit(v.Message())
			}
			return true
		})
	}
	visit(m)
	if best == nil {
		return false
	}
	best.Truncate(best.Len() / 2)
	w.cut[bestName] = true
	return true
}

func keys(m map[string]bool) []string {
	if len(m) == 0 {
		return nil
	}
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
