package store

import (
	"sort"

	"google.golang.org/protobuf/proto"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// OpenAlerts calls fn with every open (not resolved) alert, read through the
// open-alert index rather than the whole alert history, until fn returns
// false. The alerts are shared records: fn must not change them.
func (tx *Tx) OpenAlerts(fn func(*pb.Alert) bool) error {
	var ids []string
	c := tx.tx.Bucket(bucketAlertIndex).Cursor()
	for k, id := c.First(); k != nil; k, id = c.Next() {
		ids = append(ids, string(id))
	}
	tx.prefetch(bucketAlerts, ids) // on PostgreSQL: a query per thousand alerts, not one each
	for _, id := range ids {
		a, err := tx.AlertShared(id)
		if err != nil {
			return err
		}
		if !fn(a) {
			return nil
		}
	}
	return nil
}

// UnresolvedAlerts lists the open and acknowledged alerts passing keep,
// newest first, as Alerts would list them, but read through the open-alert
// index: the reviewers' queue costs what is in it, not the whole alert
// history, which grows with every resolved alert. The alerts are copies.
func (tx *Tx) UnresolvedAlerts(keep func(*pb.Alert) bool) ([]*pb.Alert, error) {
	var out []*pb.Alert
	err := tx.OpenAlerts(func(a *pb.Alert) bool {
		if a.GetStatus() != "resolved" && (keep == nil || keep(a)) {
			out = append(out, proto.Clone(a).(*pb.Alert))
		}
		return true
	})
	// Alert ids sort as the alerts bucket's keys do: newest last.
	sort.Slice(out, func(i, j int) bool { return out[i].GetId() > out[j].GetId() })
	return out, err
}
