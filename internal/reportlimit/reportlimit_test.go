package reportlimit

import (
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// fieldsOf collects every field reachable from a report, by full name.
func fieldsOf(md protoreflect.MessageDescriptor, out map[protoreflect.FullName]protoreflect.FieldDescriptor) {
	fields := md.Fields()
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		if _, seen := out[fd.FullName()]; seen {
			continue
		}
		out[fd.FullName()] = fd
		if fd.Message() != nil {
			fieldsOf(fd.Message(), out)
		}
	}
}

// Every limit names a field the report has, of the right kind: a renamed
// field would otherwise silently fall back to the default limit.
func TestLimitsNameReportFields(t *testing.T) {
	all := map[protoreflect.FullName]protoreflect.FieldDescriptor{}
	fieldsOf((&pb.Report{}).ProtoReflect().Descriptor(), all)
	for name := range StringLimits() {
		fd, ok := all[name]
		if !ok || (fd.Kind() != protoreflect.StringKind && fd.Kind() != protoreflect.BytesKind) {
			t.Errorf("string limit for %s: no such string field in a report", name)
		}
	}
	for name := range ListLimits() {
		fd, ok := all[name]
		if !ok || !(fd.IsList() || fd.IsMap()) {
			t.Errorf("list limit for %s: no such list field in a report", name)
		}
	}
}
