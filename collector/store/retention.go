package store

import (
	"encoding/binary"
	"time"
)

// Prune deletes stored reports received before cutoff, oldest first, at most
// max in one transaction, and returns how many it deleted. The reports
// bucket is keyed by receive time, so this reads only what it deletes. The
// (device, seq) index keeps its entries, so a late duplicate of a pruned
// report is still recognised and not stored again.
func (s *Store) Prune(cutoff time.Time, max int) (int, error) {
	n := 0
	end := uint64(cutoff.UnixNano())
	err := s.kv.Update(func(tx kvTx) error {
		n = 0 // per attempt: the engine may run this again
		c := tx.Bucket(bucketReports).Cursor()
		for k, _ := c.First(); k != nil && n < max; k, _ = c.First() {
			if binary.BigEndian.Uint64(k[:8]) >= end {
				break
			}
			if err := c.Delete(); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	return n, err
}
