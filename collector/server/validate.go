package server

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/farmwatch/farmwatch/internal/reportlimit"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// Limits bound what one call may carry. The report's own limits are those of
// internal/reportlimit, which the agent cuts its reports to: an honest agent
// is never refused for size.
type Limits struct {
	MaxMessageBytes int
	MaxBatch        int
	// MaxReportBytes bounds one report, marshalled, unknown fields dropped.
	MaxReportBytes int
	MaxString      int
	MaxList        int
	// Field-specific overrides by full field name.
	StringLimits map[protoreflect.FullName]int
	ListLimits   map[protoreflect.FullName]int
	// How far a report's own clock may be from the collector's before the
	// report is refused as nonsense (the skew itself is evidence, within it).
	MaxClockSkew time.Duration
}

// DefaultLimits are the collector's defaults.
func DefaultLimits() Limits {
	return Limits{
		MaxMessageBytes: 4 << 20,
		MaxBatch:        500,
		MaxReportBytes:  reportlimit.MaxReportBytes,
		MaxString:       reportlimit.MaxString,
		MaxList:         reportlimit.MaxList,
		StringLimits:    reportlimit.StringLimits(),
		ListLimits:      reportlimit.ListLimits(),
		MaxClockSkew:    400 * 24 * time.Hour,
	}
}

// isMAC accepts 6 to 8 groups of one or two hex digits separated by ':' or
// '-' (as ^[0-9a-fA-F]{1,2}([:-][0-9a-fA-F]{1,2}){5,7}$ would, without a
// regular expression on every interface of every report).
func isMAC(s string) bool {
	groups, digits := 1, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case '0' <= c && c <= '9', 'a' <= c && c <= 'f', 'A' <= c && c <= 'F':
			if digits++; digits > 2 {
				return false
			}
		case c == ':' || c == '-':
			if digits == 0 {
				return false
			}
			groups, digits = groups+1, 0
		default:
			return false
		}
	}
	return digits > 0 && groups >= 6 && groups <= 8
}

// ValidateReport checks one report against the limits and the field formats;
// the error names the field path and what is wrong with it.
func (l Limits) ValidateReport(r *pb.Report, now time.Time) error {
	if r.GetSeq() == 0 {
		return fmt.Errorf("seq: must be 1 or more")
	}
	if r.CollectedAt == nil {
		return fmt.Errorf("collected_at: missing")
	}
	if err := r.GetCollectedAt().CheckValid(); err != nil {
		return fmt.Errorf("collected_at: %v", err)
	}
	if d := r.GetCollectedAt().AsTime().Sub(now); d > l.MaxClockSkew || d < -l.MaxClockSkew {
		return fmt.Errorf("collected_at: %s is %s away from the collector's clock, limit %s",
			r.GetCollectedAt().AsTime().Format(time.RFC3339), d.Round(time.Hour), l.MaxClockSkew)
	}
	if n := proto.Size(r); n > l.MaxReportBytes {
		return fmt.Errorf("report: %d bytes, limit %d", n, l.MaxReportBytes)
	}
	if err := l.walk(r.ProtoReflect(), &fieldPath{elems: make([]pathElem, 0, 8)}); err != nil {
		return err
	}
	for i, ifc := range r.GetNetwork().GetInterfaces() {
		if m := ifc.GetMac(); m != "" && !isMAC(m) {
			return fmt.Errorf("network.interfaces[%d].mac: %q is not a MAC address", i, m)
		}
		for j, a := range ifc.GetAddresses() {
			if _, err := netip.ParsePrefix(a); err != nil {
				if _, err := netip.ParseAddr(a); err != nil {
					return fmt.Errorf("network.interfaces[%d].addresses[%d]: %q is not an IP address or prefix", i, j, a)
				}
			}
		}
	}
	if g := r.GetNetwork().GetGatewayMac(); g != "" && !isMAC(g) {
		return fmt.Errorf("network.gateway_mac: %q is not a MAC address", g)
	}
	if g := r.GetNetwork().GetDefaultGateway(); g != "" {
		if _, err := netip.ParseAddr(g); err != nil {
			return fmt.Errorf("network.default_gateway: %q is not an IP address", g)
		}
	}
	for i, t := range r.GetRemoteAccess().GetTools() {
		if t.GetToolId() == "" {
			return fmt.Errorf("remote_access.tools[%d].tool_id: missing", i)
		}
		for j, c := range t.GetConnections() {
			if c.GetRemoteAddress() != "" && net.ParseIP(c.GetRemoteAddress()) == nil {
				return fmt.Errorf("remote_access.tools[%d].connections[%d].remote_address: %q is not an IP address", i, j, c.GetRemoteAddress())
			}
			if c.GetRemotePort() > 65535 || c.GetLocalPort() > 65535 {
				return fmt.Errorf("remote_access.tools[%d].connections[%d]: port out of range", i, j)
			}
		}
	}
	return nil
}

// walk enforces string, bytes and list limits and the validity of every
// timestamp on every field, generically, so a field added to the proto is
// bounded without anyone remembering to. The field path is kept as a stack
// and spelled out only for an error, and fields are visited through the
// descriptor rather than Range's callback: a valid report, the common case,
// allocates nothing here.
func (l *Limits) walk(m protoreflect.Message, path *fieldPath) error {
	fields := m.Descriptor().Fields()
	for i, n := 0, fields.Len(); i < n; i++ {
		fd := fields.Get(i)
		if !fd.IsList() && !fd.IsMap() && !bounded(fd.Kind()) {
			continue // a number or a bool: nothing to bound
		}
		if !m.Has(fd) {
			continue
		}
		path.push(fd.Name(), -1)
		if err := l.field(m, fd, path); err != nil {
			return err
		}
		path.pop()
	}
	return nil
}

// bounded tells whether values of a kind have a size to check.
func bounded(k protoreflect.Kind) bool {
	switch k {
	case protoreflect.StringKind, protoreflect.BytesKind, protoreflect.MessageKind, protoreflect.GroupKind:
		return true
	}
	return false
}

func (l *Limits) field(m protoreflect.Message, fd protoreflect.FieldDescriptor, path *fieldPath) error {
	switch {
	case fd.IsList():
		list := m.Get(fd).List()
		max := l.MaxList
		if n, ok := l.ListLimits[fd.FullName()]; ok {
			max = n
		}
		if list.Len() > max {
			return fmt.Errorf("%s: %d entries, limit %d", path, list.Len(), max)
		}
		if !bounded(fd.Kind()) {
			return nil
		}
		for i := 0; i < list.Len(); i++ {
			path.index(i)
			if err := l.value(fd, list.Get(i), path); err != nil {
				return err
			}
		}
	case fd.IsMap():
		max := l.MaxList
		if n, ok := l.ListLimits[fd.FullName()]; ok {
			max = n
		}
		if n := m.Get(fd).Map().Len(); n > max {
			return fmt.Errorf("%s: %d entries, limit %d", path, n, max)
		}
	default:
		return l.value(fd, m.Get(fd), path)
	}
	return nil
}

// value checks one value. The UTF-8 check is what refuses a string that is
// not UTF-8, by its path: the wire codec lets such a string through in a
// report batch for this check to name.
func (l *Limits) value(fd protoreflect.FieldDescriptor, v protoreflect.Value, path *fieldPath) error {
	switch fd.Kind() {
	case protoreflect.StringKind:
		s := v.String()
		max := l.MaxString
		if n, ok := l.StringLimits[fd.FullName()]; ok {
			max = n
		}
		if len(s) > max {
			return fmt.Errorf("%s: %d bytes, limit %d", path, len(s), max)
		}
		if !utf8.ValidString(s) {
			return fmt.Errorf("%s: not valid UTF-8", path)
		}
	case protoreflect.BytesKind:
		if len(v.Bytes()) > l.MaxString {
			return fmt.Errorf("%s: %d bytes, limit %d", path, len(v.Bytes()), l.MaxString)
		}
	case protoreflect.MessageKind, protoreflect.GroupKind:
		if fd.Message().FullName() == timestampName {
			return checkTimestamp(v.Message(), path)
		}
		return l.walk(v.Message(), path)
	}
	return nil
}

var timestampName = (&timestamppb.Timestamp{}).ProtoReflect().Descriptor().FullName()

// checkTimestamp refuses a timestamp no clock could mean (before year 1,
// after 9999, or nanoseconds out of range): stored, it would break every
// view that prints it as RFC 3339.
func checkTimestamp(m protoreflect.Message, path *fieldPath) error {
	ts, ok := m.Interface().(*timestamppb.Timestamp)
	if !ok {
		return nil // a dynamic message: not built by this collector
	}
	if ts.CheckValid() == nil {
		return nil
	}
	// Said in our words: protobuf's own error text varies on purpose.
	if n := ts.GetNanos(); n < 0 || n >= 1e9 {
		return fmt.Errorf("%s: invalid timestamp: nanoseconds %d out of range", path, n)
	}
	return fmt.Errorf("%s: invalid timestamp: %d seconds from 1970 is outside years 1 to 9999", path, ts.GetSeconds())
}

// fieldPath is the path from the report to the field being checked, such as
// network.interfaces[3].mac.
type fieldPath struct {
	elems []pathElem
}

type pathElem struct {
	name  protoreflect.Name
	index int // -1: not a list element
}

func (p *fieldPath) push(name protoreflect.Name, index int) {
	p.elems = append(p.elems, pathElem{name: name, index: index})
}

func (p *fieldPath) pop() { p.elems = p.elems[:len(p.elems)-1] }

// index marks the innermost field as list element i.
func (p *fieldPath) index(i int) { p.elems[len(p.elems)-1].index = i }

func (p *fieldPath) String() string {
	var b strings.Builder
	for i, e := range p.elems {
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(string(e.name))
		if e.index >= 0 {
			fmt.Fprintf(&b, "[%d]", e.index)
		}
	}
	return b.String()
}
