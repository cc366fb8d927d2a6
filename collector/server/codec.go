package server

import (
	"errors"
	"fmt"
	"unicode/utf8"

	"google.golang.org/grpc/encoding"
	grpcproto "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// wireCodec is the collector's protobuf codec for the messages it receives.
// It differs from grpc-go's own in two ways:
//
//   - Unknown fields are discarded while decoding, at every depth: fields
//     the collector does not know skip every limit and would otherwise be
//     stored with the report (one laptop added 112 MB in 4 s that way).
//   - A report batch with a string that is not UTF-8 is decoded anyway,
//     the string kept as it came, so that ValidateReport refuses it with
//     InvalidArgument and the field's path. A codec error cannot do that:
//     grpc-go turns every one into an Internal status that names nothing.
//
// Replies are marshalled by grpc-go's codec.
type wireCodec struct{ base encoding.CodecV2 }

func newWireCodec() wireCodec { return wireCodec{base: encoding.GetCodecV2(grpcproto.Name)} }

func (c wireCodec) Name() string { return grpcproto.Name }

func (c wireCodec) Marshal(v any) (mem.BufferSlice, error) { return c.base.Marshal(v) }

func (c wireCodec) Unmarshal(data mem.BufferSlice, v any) error {
	m, ok := v.(proto.Message)
	if !ok {
		return fmt.Errorf("unmarshal: %T is not a protobuf message", v)
	}
	buf := data.MaterializeToBuffer(mem.DefaultBufferPool())
	defer buf.Free()
	return decodeRequest(buf.ReadOnlyData(), m)
}

// decodeRequest decodes b into m, dropping unknown fields. Only a report
// batch, whose every string ValidateReport checks, may come out holding a
// string that is not UTF-8; for any other message such a string is an
// error naming its field.
func decodeRequest(b []byte, m proto.Message) error {
	err := proto.UnmarshalOptions{DiscardUnknown: true}.Unmarshal(b, m)
	if err == nil || !invalidUTF8(err) {
		return err
	}
	proto.Reset(m)
	if lerr := decodeLenient(b, m.ProtoReflect()); lerr != nil {
		return err
	}
	if _, validated := m.(*pb.ReportRequest); validated {
		return nil
	}
	path := &fieldPath{}
	if firstInvalidUTF8(m.ProtoReflect(), path) {
		return fmt.Errorf("%s: not valid UTF-8", path)
	}
	return err
}

// invalidUTF8 tells a protobuf decoding error caused by a string that is
// not UTF-8 from any other.
func invalidUTF8(err error) bool {
	var e interface{ InvalidUTF8() bool }
	return errors.As(err, &e) && e.InvalidUTF8()
}

// decodeLenient decodes b into m as proto.Unmarshal does, except that a
// string field keeps bytes that are not UTF-8, and unknown fields are
// dropped. Strings and messages are decoded here; every other field is
// handed to the protobuf library one field at a time.
func decodeLenient(b []byte, m protoreflect.Message) error {
	fields := m.Descriptor().Fields()
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		vn := protowire.ConsumeFieldValue(num, typ, b[n:])
		if vn < 0 {
			return protowire.ParseError(vn)
		}
		field, value := b[:n+vn], b[n:n+vn]
		b = b[n+vn:]
		fd := fields.ByNumber(num)
		if fd == nil {
			continue // unknown: dropped
		}
		switch {
		case typ == protowire.BytesType && !fd.IsMap() && fd.Kind() == protoreflect.StringKind:
			s, _ := protowire.ConsumeBytes(value)
			v := protoreflect.ValueOfString(string(s))
			if fd.IsList() {
				m.Mutable(fd).List().Append(v)
			} else {
				m.Set(fd, v)
			}
		case typ == protowire.BytesType && !fd.IsMap() && fd.Kind() == protoreflect.MessageKind:
			sub, _ := protowire.ConsumeBytes(value)
			if fd.IsList() {
				l := m.Mutable(fd).List()
				e := l.NewElement()
				if err := decodeLenient(sub, e.Message()); err != nil {
					return err
				}
				l.Append(e)
			} else if err := decodeLenient(sub, m.Mutable(fd).Message()); err != nil {
				return err // a repeated singular message merges, as protobuf says
			}
		default:
			opts := proto.UnmarshalOptions{Merge: true, DiscardUnknown: true}
			if err := opts.Unmarshal(field, m.Interface()); err != nil {
				return err
			}
		}
	}
	return nil
}

// firstInvalidUTF8 finds the first string under m that is not UTF-8 and
// leaves its path in path.
func firstInvalidUTF8(m protoreflect.Message, path *fieldPath) bool {
	found := false
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		path.push(fd.Name(), -1)
		switch {
		case fd.IsList():
			l := v.List()
			for i := 0; i < l.Len() && !found; i++ {
				path.index(i)
				found = invalidValue(fd, l.Get(i), path)
			}
		case fd.IsMap():
			v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
				found = !utf8.ValidString(k.String()) && fd.MapKey().Kind() == protoreflect.StringKind ||
					invalidValue(fd.MapValue(), mv, path)
				return !found
			})
		default:
			found = invalidValue(fd, v, path)
		}
		if !found {
			path.pop()
		}
		return !found
	})
	return found
}

func invalidValue(fd protoreflect.FieldDescriptor, v protoreflect.Value, path *fieldPath) bool {
	switch fd.Kind() {
	case protoreflect.StringKind:
		return !utf8.ValidString(v.String())
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return firstInvalidUTF8(v.Message(), path)
	}
	return false
}
