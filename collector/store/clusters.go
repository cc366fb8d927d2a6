package store

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"time"
)

// The clusters bucket keeps, for each cluster, its record (members, place,
// verdict) under the cluster's id, and after it one entry per link: a
// fingerprint the cluster's devices share and a device that shows it
//
//	cluster id, 0, kind, 0, value, 0, device id -> linked at (unix ns, 8 bytes), strong (1 byte)
//
// so that a new link writes a row instead of rewriting every link of the
// farm, and a cluster's links are one prefix scan after its record. A
// cluster id, a kind and a value hold no zero byte (the analysis drops such
// a value), nor does a device id. On PostgreSQL the records and the links
// are two tables (clusters, cluster_links).

// ClusterLinkKey is the key of one link entry.
func ClusterLinkKey(cluster, kind, value, device string) []byte {
	k := make([]byte, 0, len(cluster)+len(kind)+len(value)+len(device)+3)
	k = append(append(k, cluster...), 0)
	k = append(append(k, kind...), 0)
	k = append(append(k, value...), 0)
	return append(k, device...)
}

// ClusterLinkPrefix is what every link key of a cluster starts with.
func ClusterLinkPrefix(cluster string) []byte { return append([]byte(cluster), 0) }

// ParseClusterLinkKey splits a link key at its first three zero bytes; ok
// is false for any other key. Split so, any key's parts sort as the key
// does, which a table of the parts as columns relies on.
func ParseClusterLinkKey(k []byte) (cluster, kind, value, device string, ok bool) {
	parts := bytes.SplitN(k, []byte{0}, 4)
	if len(parts) != 4 {
		return "", "", "", "", false
	}
	return string(parts[0]), string(parts[1]), string(parts[2]), string(parts[3]), true
}

// ClusterLinkValue is a link entry's value: when the device was linked, and
// whether the fingerprint is a strong one.
func ClusterLinkValue(at time.Time, strong bool) []byte {
	v := binary.BigEndian.AppendUint64(make([]byte, 0, 9), uint64(at.UnixNano()))
	if strong {
		return append(v, 1)
	}
	return append(v, 0)
}

// ParseClusterLinkValue reads a link entry's value.
func ParseClusterLinkValue(v []byte) (at time.Time, strong bool, err error) {
	if len(v) != 9 || v[8] > 1 {
		return time.Time{}, false, fmt.Errorf("a cluster link value is 9 bytes (linked at, strong), not %x", v)
	}
	return time.Unix(0, int64(binary.BigEndian.Uint64(v))).UTC(), v[8] == 1, nil
}

// ScanRecords calls fn for each record of bucket (each key without a zero
// byte: a cluster, not its links), in order, until fn returns false.
func (tx *Tx) ScanRecords(bucket []byte, fn func(k, v []byte) bool) error {
	stop := fmt.Errorf("stop")
	err := forEachRecord(tx.tx.Bucket(bucket), func(k, v []byte) error {
		if !fn(k, v) {
			return stop
		}
		return nil
	})
	if err == stop {
		return nil
	}
	return err
}

// NewRevision is a random stamp a record takes each time it is saved, so
// that a cache keyed by the record's bytes misses whenever anything stored
// with it (a cluster's link entries) may have changed: a counter would
// repeat after a rolled back attempt, a random stamp practically never.
func NewRevision() uint64 { return rand.Uint64() }

// clusterLinksIntoEntries (schema 10) moves each cluster's links out of its
// record into entries of their own after it, and stamps the record with a
// revision. It runs through the key-value contract, on bbolt files and on
// PostgreSQL databases alike, a chunk of clusters at a time.
func clusterLinksIntoEntries(tx kvTx) error {
	b := tx.Bucket(BucketClusters)
	type legacyLink struct {
		Kind    string               `json:"kind"`
		Value   string               `json:"value"`
		Strong  bool                 `json:"strong"`
		Devices map[string]time.Time `json:"devices"`
	}
	var from []byte
	for {
		type record struct{ id, v []byte }
		var chunk []record
		c := b.Cursor()
		k, v := c.First()
		if from != nil {
			k, v = c.Seek(from)
		}
		for ; k != nil && len(chunk) < migrationChunk; k, v = c.Next() {
			if bytes.IndexByte(k, 0) < 0 {
				chunk = append(chunk, record{bytes.Clone(k), bytes.Clone(v)})
			}
		}
		if len(chunk) == 0 {
			return nil
		}
		for _, r := range chunk {
			var fields map[string]json.RawMessage
			if err := json.Unmarshal(r.v, &fields); err != nil {
				return fmt.Errorf("cluster %s: %w", r.id, err)
			}
			var links map[string]legacyLink
			if raw, ok := fields["links"]; ok {
				if err := json.Unmarshal(raw, &links); err != nil {
					return fmt.Errorf("cluster %s: links: %w", r.id, err)
				}
			}
			for _, l := range links {
				for dev, at := range l.Devices {
					if err := b.Put(ClusterLinkKey(string(r.id), l.Kind, l.Value, dev), ClusterLinkValue(at, l.Strong)); err != nil {
						return err
					}
				}
			}
			delete(fields, "links")
			rev, _ := json.Marshal(NewRevision())
			fields["rev"] = rev
			nv, err := json.Marshal(fields)
			if err != nil {
				return err
			}
			if err := b.Put(r.id, nv); err != nil {
				return err
			}
		}
		from = append(chunk[len(chunk)-1].id, 1) // past its links
	}
}
