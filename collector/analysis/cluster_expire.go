package analysis

import (
	"maps"
	"slices"
	"time"

	"github.com/farmwatch/farmwatch/collector/store"
)

// Links expire: a device that has not shown a shared fingerprint within the
// cluster window no longer holds that link, and a cluster whose members no
// longer hang together splits or dissolves. A venue shared for a few days
// (a conference, a friend's flat) thus leaves no lasting cluster, and a farm
// that moves out of one house leaves its old one.

// sortedLinkKeys lists a cluster's link keys in order.
func sortedLinkKeys(cl *Cluster) []string { return slices.Sorted(maps.Keys(cl.Links)) }

// expire drops the link entries of cl whose device has not shown the
// fingerprint within the window, per the fingerprint index, and splits the
// cluster into what still hangs together. It returns the clusters that
// remain (the first keeps cl's id; each has two members or more) and the
// devices that left every cluster. Nothing is stored.
func (c clusterer) expire(tx *store.Tx, cl *Cluster, now time.Time) (kept []*Cluster, left []string, changed bool) {
	window := time.Duration(c.cfg.Cluster.WindowHours * float64(time.Hour))
	for _, k := range sortedLinkKeys(cl) {
		l := cl.Links[k]
		for d := range l.Devices {
			if at, ok := seenAt(tx, l.Kind, l.Value, d); !ok || now.Sub(at) > window {
				if !changed && cl.readOnly {
					cl = cl.clone()
					l = cl.Links[k]
				}
				delete(l.Devices, d)
				changed = true
			}
		}
		if len(l.Devices) < 2 {
			if !changed && cl.readOnly {
				cl = cl.clone()
			}
			delete(cl.Links, k)
			changed = true
		}
	}
	if !changed {
		return []*Cluster{cl}, nil, false
	}
	// Union-find over the links that are left.
	parent := map[string]string{}
	var find func(string) string
	find = func(x string) string {
		if p, ok := parent[x]; ok && p != x {
			r := find(p)
			parent[x] = r
			return r
		}
		parent[x] = x
		return x
	}
	for _, k := range sortedLinkKeys(cl) {
		var first string
		for _, d := range slices.Sorted(maps.Keys(cl.Links[k].Devices)) {
			if first == "" {
				first = find(d)
				continue
			}
			if r := find(d); r != first {
				parent[r] = first
			}
		}
	}
	groups := map[string][]string{}
	for _, id := range slices.Sorted(maps.Keys(cl.Members)) {
		if _, linked := parent[id]; !linked {
			left = append(left, id)
			continue
		}
		r := find(id)
		groups[r] = append(groups[r], id)
	}
	// The biggest group keeps the id (ties: the one with the smallest member).
	roots := slices.Collect(maps.Keys(groups))
	slices.SortFunc(roots, func(a, b string) int {
		if len(groups[a]) != len(groups[b]) {
			return len(groups[b]) - len(groups[a])
		}
		return compareStrings(groups[a][0], groups[b][0])
	})
	members, links := cl.Members, cl.Links
	for _, r := range roots {
		group := groups[r]
		if len(group) < 2 {
			left = append(left, group...)
			continue
		}
		part := cl // the first group keeps the id
		if len(kept) > 0 {
			part = &Cluster{Created: now, Observed: cl.Observed}
		}
		part.Members, part.Links = map[string]*Member{}, map[string]*ClusterLink{}
		for _, id := range group {
			part.Members[id] = members[id]
		}
		// After the union, all devices of a link are in one group.
		for k, l := range links {
			for d := range l.Devices {
				if part.Members[d] != nil {
					part.Links[k] = l
				}
				break
			}
		}
		kept = append(kept, part)
	}
	slices.Sort(left)
	return kept, left, true
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
