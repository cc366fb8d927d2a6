package store

import (
	"bytes"
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/farmwatch/farmwatch/internal/rawcache"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// sharedCache keeps decoded records the ingest path reads far more often than
// they change: a report is analysed against its hire, a farm member's report
// against the hires of up to 25 other members and against the farm's alert,
// whose record grows with the farm. An entry is used only while the stored
// bytes are exactly the ones it was made from, so an update, or a rolled-back
// transaction, makes it miss. Records are handed out shared: callers must not
// change them.
type sharedCache[T proto.Message] struct {
	c     *rawcache.Cache[T]
	fresh func() T
}

func (s *sharedCache[T]) get(id string, raw []byte) (T, error) {
	if m, ok := s.c.Get(id, raw); ok {
		return m, nil
	}
	m := s.fresh()
	if err := proto.Unmarshal(raw, m); err != nil {
		var zero T
		return zero, err
	}
	// raw points into the memory-mapped file, valid only in this transaction.
	s.c.Put(id, bytes.Clone(raw), m)
	return m, nil
}

// sharedRecord reads record id of a bucket through its shared cache; kind
// names it in errors.
func sharedRecord[T proto.Message](b kvBucket, c *sharedCache[T], kind, id string) (T, error) {
	raw := kvGet(b, []byte(id))
	if raw == nil {
		var zero T
		return zero, fmt.Errorf("%s %q: %w", kind, id, ErrNotFound)
	}
	m, err := c.get(id, raw)
	if err != nil {
		return m, fmt.Errorf("%s %q: %w", kind, id, err)
	}
	return m, nil
}

func newHireCache() *sharedCache[*pb.Hire] {
	return &sharedCache[*pb.Hire]{c: rawcache.New[*pb.Hire](64 << 20), fresh: func() *pb.Hire { return &pb.Hire{} }}
}

func newAlertCache() *sharedCache[*pb.Alert] {
	return &sharedCache[*pb.Alert]{c: rawcache.New[*pb.Alert](32 << 20), fresh: func() *pb.Alert { return &pb.Alert{} }}
}
