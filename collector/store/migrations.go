package store

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"log/slog"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// migration brings a store from schema To-1 to To, inside the opening
// transaction: either every step commits or none does.
type migration struct {
	To   uint64
	Name string
	Run  func(tx *bolt.Tx) error
}

// migrations, in order. Never edit a released one; add the next.
var migrations = []migration{
	{To: 2, Name: "index devices by hire", Run: indexDevicesByHire},
}

// migrate stamps a new store with the current schema, runs the migrations
// an older one needs, and refuses a store written by a newer farmwatch.
func migrate(tx *bolt.Tx) error {
	meta := tx.Bucket(bucketMeta)
	v := meta.Get(keySchema)
	if v == nil {
		if tx.Bucket(bucketDevices).Stats().KeyN == 0 && tx.Bucket(bucketHires).Stats().KeyN == 0 {
			return meta.Put(keySchema, u64(SchemaVersion)) // a new, empty store
		}
		v = u64(1) // written before the schema key existed
	}
	cur := binary.BigEndian.Uint64(v)
	if cur > SchemaVersion {
		return fmt.Errorf("store schema %d is newer than this collector understands (%d): upgrade farmwatch", cur, SchemaVersion)
	}
	for _, m := range migrations {
		if m.To <= cur {
			continue
		}
		if m.To != cur+1 {
			return fmt.Errorf("no migration from schema %d to %d", cur, m.To)
		}
		if err := m.Run(tx); err != nil {
			return fmt.Errorf("migrate store to schema %d (%s): %w", m.To, m.Name, err)
		}
		slog.Info("store migrated", "schema", m.To, "step", m.Name)
		cur = m.To
		if err := meta.Put(keySchema, u64(cur)); err != nil {
			return err
		}
	}
	if cur != SchemaVersion {
		return fmt.Errorf("store schema %d, want %d: a migration is missing", cur, SchemaVersion)
	}
	return nil
}

func devByHireKey(hire, device string) []byte {
	return append(append([]byte(hire), 0), device...)
}

// indexDevicesByHire (schema 2) fills the hire -> devices index from the
// device records.
func indexDevicesByHire(tx *bolt.Tx) error {
	idx, err := tx.CreateBucketIfNotExists(bucketDevByHire)
	if err != nil {
		return err
	}
	return tx.Bucket(bucketDevices).ForEach(func(k, v []byte) error {
		d := &pb.Device{}
		if err := proto.Unmarshal(v, d); err != nil {
			return fmt.Errorf("device %s: %w", k, err)
		}
		return idx.Put(devByHireKey(d.GetHireId(), d.GetId()), nil)
	})
}

// devicesOfHire lists a hire's device ids through the index.
func (tx *Tx) devicesOfHire(hire string) []string {
	var out []string
	prefix := append([]byte(hire), 0)
	c := tx.tx.Bucket(bucketDevByHire).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		out = append(out, string(k[len(prefix):]))
	}
	return out
}
