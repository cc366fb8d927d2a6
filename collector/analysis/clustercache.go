package analysis

import (
	"bytes"
	"encoding/json"
	"maps"
	"sync"
)

// decodedClusters keeps the decoded form of large cluster records. A farm's
// record grows with its members, and every report of every member reads it:
// parsing the JSON each time made a farm of 1,000 laptops cost
// milliseconds per report. An entry is used only while the stored bytes are
// exactly those it was decoded from, and callers get a copy, so a rolled
// back transaction or another store in the same process never sees it.
var decodedClusters = &clusterCache{entries: map[string]cachedCluster{}}

const (
	// clusterCacheMinBytes: smaller records decode faster than they copy.
	clusterCacheMinBytes = 8 << 10
	clusterCacheEntries  = 64
)

type clusterCache struct {
	mu      sync.Mutex
	entries map[string]cachedCluster
}

type cachedCluster struct {
	raw []byte
	cl  *Cluster
}

// decode parses the stored record raw of cluster id.
func (c *clusterCache) decode(id string, raw []byte) (*Cluster, error) {
	if len(raw) < clusterCacheMinBytes {
		cl := &Cluster{}
		return cl, json.Unmarshal(raw, cl)
	}
	c.mu.Lock()
	e, ok := c.entries[id]
	c.mu.Unlock()
	if ok && bytes.Equal(e.raw, raw) {
		return e.cl.clone(), nil
	}
	cl := &Cluster{}
	if err := json.Unmarshal(raw, cl); err != nil {
		return cl, err
	}
	c.mu.Lock()
	if _, ok := c.entries[id]; !ok && len(c.entries) >= clusterCacheEntries {
		for k := range c.entries { // any entry: the hot ones come back
			delete(c.entries, k)
			break
		}
	}
	c.entries[id] = cachedCluster{raw: bytes.Clone(raw), cl: cl.clone()}
	c.mu.Unlock()
	return cl, nil
}

// clone is a deep copy: callers change members, links and the observation.
func (cl *Cluster) clone() *Cluster {
	out := *cl
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
