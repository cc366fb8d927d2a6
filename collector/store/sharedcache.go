package store

import (
	"bytes"
	"fmt"
	"sync"

	"google.golang.org/protobuf/proto"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// hireCache keeps decoded hires next to the bytes they were decoded from. A
// report is analysed against its hire, and a farm member's report against the
// hires of up to 25 other members, so the same few hundred bytes would
// otherwise be decoded again and again. An entry is used only while the
// stored bytes are exactly the ones it was made from, so an update of a hire,
// or a rolled-back transaction, makes it miss.
type hireCache struct {
	mu  sync.Mutex
	max int
	m   map[string]hireEntry
}

type hireEntry struct {
	raw []byte
	h   *pb.Hire
}

func newHireCache(max int) *hireCache {
	return &hireCache{max: max, m: make(map[string]hireEntry, 1024)}
}

func (c *hireCache) get(id string, raw []byte) (*pb.Hire, error) {
	c.mu.Lock()
	e, ok := c.m[id]
	c.mu.Unlock()
	if ok && bytes.Equal(e.raw, raw) {
		return e.h, nil
	}
	h := &pb.Hire{}
	if err := proto.Unmarshal(raw, h); err != nil {
		return nil, fmt.Errorf("hire %q: %w", id, err)
	}
	c.mu.Lock()
	if len(c.m) >= c.max {
		for k := range c.m { // drop an arbitrary entry
			delete(c.m, k)
			break
		}
	}
	// raw points into the memory-mapped file, valid only in this transaction.
	c.m[id] = hireEntry{raw: bytes.Clone(raw), h: h}
	c.mu.Unlock()
	return h, nil
}

// HireShared returns a hire for reading only: the record is shared with other
// callers and must not be modified (use Hire for a copy to change).
func (tx *Tx) HireShared(id string) (*pb.Hire, error) {
	raw := tx.tx.Bucket(bucketHires).Get([]byte(id))
	if raw == nil {
		return nil, fmt.Errorf("hire %q: %w", id, ErrNotFound)
	}
	return tx.s.hires.get(id, raw)
}
