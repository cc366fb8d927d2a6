package analysis

import (
	"bytes"
	"sync"

	"github.com/farmwatch/farmwatch/collector/store"
)

// stateCache keeps decoded device states next to the bytes they were stored
// as, so the writer does not decode a device's JSON state on every report.
// An entry is used only while the stored bytes are still exactly the ones it
// was made from: a rolled-back transaction, or a write by another path,
// makes it miss and the state is decoded afresh.
type stateCache struct {
	mu  sync.Mutex
	max int
	m   map[string]stateEntry
}

type stateEntry struct {
	enc []byte
	st  *DeviceState
}

func newStateCache(max int) *stateCache {
	return &stateCache{max: max, m: make(map[string]stateEntry, 1024)}
}

// load returns the device's state; the caller may change it and must store
// it with save (the cached copy is the caller's to mutate).
func (c *stateCache) load(tx *store.Tx, id string) (*DeviceState, error) {
	b := tx.DeviceStateView(id) // compared or decoded here, never kept
	c.mu.Lock()
	e, ok := c.m[id]
	delete(c.m, id) // handed out: the caller now owns it until save
	c.mu.Unlock()
	if ok && bytes.Equal(e.enc, b) {
		return e.st, nil
	}
	return loadState(b)
}

// save encodes and stores the state, and remembers it.
func (c *stateCache) save(tx *store.Tx, id string, s *DeviceState) error {
	b, err := s.encode()
	if err != nil {
		return err
	}
	if err := tx.PutDeviceState(id, b); err != nil {
		return err
	}
	c.mu.Lock()
	if len(c.m) >= c.max {
		for k := range c.m { // drop an arbitrary entry
			delete(c.m, k)
			break
		}
	}
	c.m[id] = stateEntry{enc: b, st: s}
	c.mu.Unlock()
	return nil
}
