package analysis

import (
	"bytes"
	"encoding/json"
	"maps"
	"sync"

	"github.com/farmwatch/farmwatch/internal/rawcache"
)

// decodedClusters keeps the decoded form of clusters. A farm's record grows
// with its members, and every report of every member reads it; an ordinary
// report reads its device's cluster too. Decoding the JSON costs about ten
// times a deep copy at every size (7 µs against 0.6 µs for two members,
// 1.4 ms against 0.1 ms for a thousand), and a cluster's links are entries
// of their own to read besides, so clusters are decoded once and copied
// out. An entry is used only while the stored record's bytes are exactly
// those it was made from: a save that changes the links gives the record a
// new random revision, so a change of the links, made only through a save,
// changes them too. Callers get a copy, so a rolled back transaction or another
// store in the same process never sees it.
var decodedClusters = newClusterCache(32 << 20)

type clusterCache struct {
	c *rawcache.Cache[*Cluster] // the cache's own copies, marked readOnly
}

// linkReader reads the link entries of cluster id, a cluster of members
// devices, for a cluster decoded afresh.
type linkReader func(id string, members int) (map[string]*ClusterLink, error)

func newClusterCache(maxBytes int) *clusterCache {
	return &clusterCache{c: rawcache.New[*Cluster](maxBytes)}
}

// decode parses the stored record raw of cluster id, with the links read
// by links, into a copy the caller may change.
func (c *clusterCache) decode(id string, raw []byte, links linkReader) (*Cluster, error) {
	if cl, ok := c.c.Get(id, raw); ok {
		return cl.clone(), nil
	}
	cl := &Cluster{}
	if err := json.Unmarshal(raw, cl); err != nil {
		return cl, err
	}
	var err error
	if cl.Links, err = links(id, len(cl.Members)); err != nil {
		return cl, err
	}
	own := c.put(id, bytes.Clone(raw), cl)
	cl.stored = own
	return cl, nil
}

// shared is decode without the copy when the record is cached: the cluster
// returned is then the cache's own, marked readOnly, and the caller must
// clone it before changing anything.
func (c *clusterCache) shared(id string, raw []byte, links linkReader) (*Cluster, error) {
	if cl, ok := c.c.Get(id, raw); ok {
		return cl, nil
	}
	return c.decode(id, raw, links)
}

// saved remembers a cluster the caller has just stored with record raw, so
// the next report reads it without decoding; cl stays the caller's. It
// returns the cache's copy: what is now stored.
func (c *clusterCache) saved(id string, raw []byte, cl *Cluster) *Cluster {
	return c.put(id, raw, cl)
}

// put keeps a read-only copy of cl as the decoded form of raw, and returns
// it. The budget counts the record and the links it does not hold.
func (c *clusterCache) put(id string, raw []byte, cl *Cluster) *Cluster {
	own := cl.clone()
	own.readOnly = true
	own.memo = &clusterMemo{}
	own.stored = nil
	size := len(raw)
	for _, l := range cl.Links {
		size += len(l.Devices) * (len(l.Kind) + len(l.Value) + len(id) + 32)
	}
	c.c.PutSized(id, raw, own, size)
	return own
}

// clusterMemo is what reports derive from a cached, read-only cluster,
// computed once for all of them.
type clusterMemo struct {
	once  sync.Once
	first []string // the colocatedNames+1 smallest member ids
}

// firstMembers returns the colocatedNames smallest member ids other than
// except, in order. Every report of a farm member names them; on the cache's
// copy they are found once, not by a pass over the farm per report.
func (cl *Cluster) firstMembers(except string) []string {
	if cl.memo == nil {
		return firstIDs(cl.Members, except, colocatedNames)
	}
	cl.memo.once.Do(func() { cl.memo.first = firstIDs(cl.Members, "", colocatedNames+1) })
	out := make([]string, 0, colocatedNames)
	for _, id := range cl.memo.first {
		if id != except && len(out) < colocatedNames {
			out = append(out, id)
		}
	}
	return out
}

// clone is a deep copy: callers change members, links and the observation.
// The copy remembers what is stored as the original did.
func (cl *Cluster) clone() *Cluster {
	out := *cl
	out.readOnly, out.memo = false, nil
	if cl.readOnly {
		out.stored = cl // the cache's copy is what is stored
	}
	if cl.Members != nil {
		out.Members = make(map[string]*Member, len(cl.Members))
		for k, m := range cl.Members {
			mm := *m
			out.Members[k] = &mm
		}
	}
	if cl.Links != nil {
		out.Links = make(map[string]*ClusterLink, len(cl.Links))
		for k, l := range cl.Links {
			ll := *l
			ll.Devices = maps.Clone(l.Devices)
			out.Links[k] = &ll
		}
	}
	if cl.Observed != nil {
		o := *cl.Observed
		out.Observed = &o
	}
	return &out
}
