// Package rawcache keeps decoded records next to the stored bytes they were
// decoded from, within a byte budget. A value is handed back only for exactly
// those bytes, so a record changed in the store, or a write rolled back,
// makes the lookup miss and the caller decode afresh.
package rawcache

import (
	"bytes"
	"sync"
)

// Cache maps an id to the value decoded from one version of its bytes. It is
// safe for concurrent use.
type Cache[V any] struct {
	mu       sync.Mutex
	entries  map[string]entry[V]
	bytes    int
	maxBytes int
}

type entry[V any] struct {
	raw  []byte
	v    V
	size int // what the budget counts
}

// New returns a cache holding at most maxBytes of record bytes.
func New[V any](maxBytes int) *Cache[V] {
	return &Cache[V]{entries: make(map[string]entry[V], 1024), maxBytes: maxBytes}
}

// Get returns the value cached for id if it was made from exactly raw.
func (c *Cache[V]) Get(id string, raw []byte) (V, bool) {
	c.mu.Lock()
	e, ok := c.entries[id]
	c.mu.Unlock()
	if ok && bytes.Equal(e.raw, raw) {
		return e.v, true
	}
	var zero V
	return zero, false
}

// Put remembers v as the decoded form of raw, replacing what id had. The cache
// keeps raw: pass a copy of memory that is not the caller's to keep (a
// memory-mapped page). A record over a quarter of the budget is not kept;
// to make room, arbitrary entries go (the hot ones come back).
func (c *Cache[V]) Put(id string, raw []byte, v V) { c.PutSized(id, raw, v, len(raw)) }

// PutSized is Put for a value that holds more than raw (what was read with
// it from elsewhere): size, at least len(raw), is what the budget counts.
func (c *Cache[V]) PutSized(id string, raw []byte, v V, size int) {
	size = max(size, len(raw))
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.entries[id]; ok {
		c.bytes -= old.size
		delete(c.entries, id)
	}
	if size > c.maxBytes/4 {
		return // and the older entry is gone: it no longer matches
	}
	for k, e := range c.entries {
		if c.bytes+size <= c.maxBytes {
			break
		}
		c.bytes -= e.size
		delete(c.entries, k)
	}
	c.entries[id] = entry[V]{raw: raw, v: v, size: size}
	c.bytes += size
}

// Bytes is the bytes held, as the budget counts them.
func (c *Cache[V]) Bytes() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bytes
}

// Len is the number of records held.
func (c *Cache[V]) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

// Each calls fn for every record held, under the cache's lock (fn must not
// call the cache).
func (c *Cache[V]) Each(fn func(id string, raw []byte, v V)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for id, e := range c.entries {
		fn(id, e.raw, e.v)
	}
}
