package store

import (
	"fmt"

	"google.golang.org/protobuf/proto"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

func alertKey(subject, kind string) []byte {
	return append(append([]byte(subject), 0), kind...)
}

// OpenAlert returns the open (not resolved) alert of a subject (device or
// cluster id) and kind, or nil.
func (tx *Tx) OpenAlert(subject, kind string) (*pb.Alert, error) {
	id := kvGet(tx.tx.Bucket(bucketAlertIndex), alertKey(subject, kind))
	if id == nil {
		return nil, nil
	}
	return tx.Alert(string(id))
}

// OpenAlertShared is OpenAlert for reading only: the record is shared with
// other callers and must not be changed (clone it first). The analysis reads
// a device's alert on every report and changes it on few.
func (tx *Tx) OpenAlertShared(subject, kind string) (*pb.Alert, error) {
	id := kvGet(tx.tx.Bucket(bucketAlertIndex), alertKey(subject, kind))
	if id == nil {
		return nil, nil
	}
	return tx.AlertShared(string(id))
}

// Alert returns one alert.
func (tx *Tx) Alert(id string) (*pb.Alert, error) {
	a := &pb.Alert{}
	if err := getProto(tx.tx.Bucket(bucketAlerts), []byte(id), a); err != nil {
		return nil, fmt.Errorf("alert %q: %w", id, err)
	}
	return a, nil
}

// AlertShared returns an alert for reading only: the record is shared with
// other callers and must not be changed (Alert returns a copy to change).
func (tx *Tx) AlertShared(id string) (*pb.Alert, error) {
	return sharedRecord(tx.tx.Bucket(bucketAlerts), tx.s.alerts, "alert", id)
}

// PutAlert stores an alert and keeps the open-alert index of its subject in
// step: a resolved alert frees the slot for a new one. A change worth an
// event (events.go: opened, acknowledged, resolved, review crossed,
// evidence changed) writes it to the alert event log in this transaction.
func (tx *Tx) PutAlert(subject string, a *pb.Alert) error {
	b := tx.tx.Bucket(bucketAlerts)
	if err := tx.recordAlertEvent(kvGet(b, []byte(a.GetId())), a); err != nil {
		return err
	}
	if err := putProto(b, []byte(a.GetId()), a); err != nil {
		return err
	}
	idx := tx.tx.Bucket(bucketAlertIndex)
	key := alertKey(subject, a.GetKind())
	if a.GetStatus() == "resolved" {
		if cur := kvGet(idx, key); cur != nil && string(cur) == a.GetId() {
			return idx.Delete(key)
		}
		return nil
	}
	return kvPut(idx, key, []byte(a.GetId()))
}

// NextAlertID hands out alert ids in creation order.
func (tx *Tx) NextAlertID() (string, error) {
	n, err := tx.tx.Bucket(bucketAlerts).NextSequence()
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("A-%06d", n), nil
}

// Alerts lists alerts passing keep, newest first.
func (tx *Tx) Alerts(keep func(*pb.Alert) bool) ([]*pb.Alert, error) {
	var out []*pb.Alert
	c := tx.tx.Bucket(bucketAlerts).Cursor()
	for k, v := c.Last(); k != nil; k, v = c.Prev() {
		a := &pb.Alert{}
		if err := proto.Unmarshal(v, a); err != nil {
			return nil, fmt.Errorf("alert %s: %w", k, err)
		}
		if keep == nil || keep(a) {
			out = append(out, a)
		}
	}
	return out, nil
}
