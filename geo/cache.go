package geo

import (
	"hash/maphash"
	"net/netip"
	"sync"
)

const cacheShards = 64

// lookupCache is a bounded map from address to Location, split into shards so concurrent lookups rarely
// share a lock. A full shard evicts an arbitrary entry, which Go's randomised map iteration makes a
// random one: cheaper than LRU bookkeeping and good enough for a working set that fits.
type lookupCache struct {
	seed     maphash.Seed
	perShard int
	shards   [cacheShards]cacheShard
}

type cacheShard struct {
	mu sync.RWMutex
	m  map[netip.Addr]Location
	_  [40]byte // keep shards on separate cache lines
}

func newLookupCache(size int) *lookupCache {
	c := &lookupCache{seed: maphash.MakeSeed(), perShard: max(1, size/cacheShards)}
	for i := range c.shards {
		c.shards[i].m = make(map[netip.Addr]Location)
	}
	return c
}

func (c *lookupCache) shard(ip netip.Addr) *cacheShard {
	b := ip.As16()
	return &c.shards[maphash.Bytes(c.seed, b[:])%cacheShards]
}

func (c *lookupCache) get(ip netip.Addr) (Location, bool) {
	s := c.shard(ip)
	s.mu.RLock()
	loc, ok := s.m[ip]
	s.mu.RUnlock()
	return loc, ok
}

func (c *lookupCache) put(ip netip.Addr, loc Location) {
	s := c.shard(ip)
	s.mu.Lock()
	if len(s.m) >= c.perShard {
		for k := range s.m {
			delete(s.m, k)
			break
		}
	}
	s.m[ip] = loc
	s.mu.Unlock()
}
