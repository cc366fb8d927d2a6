package store

import (
	"bytes"
	"sync"

	"google.golang.org/protobuf/proto"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// sharedCache keeps decoded records next to the bytes they were decoded from,
// for records the ingest path reads far more often than they change: a
// report is analysed against its hire, a farm member's report against the
// hires of up to 25 other members and against the farm's alert, whose record
// grows with the farm. An entry is used only while the stored bytes are
// exactly the ones it was made from, so an update, or a rolled-back
// transaction, makes it miss. Records are handed out shared: callers must
// not change them.
type sharedCache[T proto.Message] struct {
	mu       sync.Mutex
	entries  map[string]sharedEntry[T]
	bytes    int
	maxBytes int
	fresh    func() T
}

type sharedEntry[T proto.Message] struct {
	raw []byte
	msg T
}

func newSharedCache[T proto.Message](maxBytes int, fresh func() T) *sharedCache[T] {
	return &sharedCache[T]{entries: make(map[string]sharedEntry[T], 1024), maxBytes: maxBytes, fresh: fresh}
}

func (c *sharedCache[T]) get(id string, raw []byte) (T, error) {
	c.mu.Lock()
	e, ok := c.entries[id]
	c.mu.Unlock()
	if ok && bytes.Equal(e.raw, raw) {
		return e.msg, nil
	}
	m := c.fresh()
	if err := proto.Unmarshal(raw, m); err != nil {
		var zero T
		return zero, err
	}
	if len(raw) > c.maxBytes/4 {
		return m, nil // one record may not take the whole cache
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.entries[id]; ok {
		c.bytes -= len(old.raw)
		delete(c.entries, id)
	}
	for k, e := range c.entries { // evict arbitrary entries: the hot ones come back
		if c.bytes+len(raw) <= c.maxBytes {
			break
		}
		c.bytes -= len(e.raw)
		delete(c.entries, k)
	}
	// raw points into the memory-mapped file, valid only in this transaction.
	c.entries[id] = sharedEntry[T]{raw: bytes.Clone(raw), msg: m}
	c.bytes += len(raw)
	return m, nil
}

func newHireCache() *sharedCache[*pb.Hire] {
	return newSharedCache(64<<20, func() *pb.Hire { return &pb.Hire{} })
}

func newAlertCache() *sharedCache[*pb.Alert] {
	return newSharedCache(32<<20, func() *pb.Alert { return &pb.Alert{} })
}
