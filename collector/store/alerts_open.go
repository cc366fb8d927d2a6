package store

import (
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// OpenAlerts calls fn with every open (not resolved) alert, read through the
// open-alert index rather than the whole alert history, until fn returns
// false. The alerts are shared records: fn must not change them.
func (tx *Tx) OpenAlerts(fn func(*pb.Alert) bool) error {
	c := tx.tx.Bucket(bucketAlertIndex).Cursor()
	for k, id := c.First(); k != nil; k, id = c.Next() {
		a, err := tx.AlertShared(string(id))
		if err != nil {
			return err
		}
		if !fn(a) {
			return nil
		}
	}
	return nil
}
