package analysis

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/farmwatch/farmwatch/collector/store"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// A collector upgraded in the middle of a controller's session keeps the
// device at review: the schema 6 migration remembers what the old state
// held, and the evidence fades from when it was seen, not from the upgrade.
func TestUpgradeKeepsEvidence(t *testing.T) {
	dir := t.TempDir()
	st, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	seen := time.Date(2026, 11, 2, 12, 0, 0, 0, time.UTC)
	old, _ := proto.Marshal(&pb.StoredDeviceState{Current: []*pb.StoredEvidence{
		{Rule: RuleHighRiskPeer, Weight: 3.5, Explanation: "RustDesk connected to a peer in Pyongyang", At: seen.UnixNano()}}})
	err = st.Update(func(tx *store.Tx) error {
		if err := tx.PutHire(&pb.Hire{Id: "h1", Home: &pb.ClaimedHome{Place: austin.name, Country: "US", Latitude: austin.lat,
			Longitude: austin.lon, TimeZone: austin.zone}}); err != nil {
			return err
		}
		if err := tx.PutDevice(&pb.Device{Id: "d-1", HireId: "h1"}); err != nil {
			return err
		}
		return tx.PutDeviceState("d-1", old)
	})
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	// Mark the file as schema 4, as the collector before this one left it.
	db, err := bolt.Open(filepath.Join(dir, "farmwatch.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("meta")).Put([]byte("schema_version"), binary.BigEndian.AppendUint64(nil, 4))
	})
	db.Close()

	cfg := DefaultConfig()
	cfg.ReportInterval = time.Hour
	eng := NewEngine(cfg)
	if st, err = store.Open(dir, store.Options{Analyze: eng.Analyze}); err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var before float64
	for hour := 1; hour <= 24*7+1; hour++ {
		now := seen.Add(time.Duration(hour) * time.Hour)
		sr := &pb.StoredReport{ReceivedAt: timestamppb.New(now), PublicIp: "70.112.1.9",
			Location: &pb.IPLocation{Country: "US", City: "Austin", Latitude: austin.lat, Longitude: austin.lon, Geolocatable: true},
			Report:   &pb.Report{Seq: uint64(hour), CollectedAt: timestamppb.New(now)}}
		if _, err := st.Ingest("d-1", []*pb.StoredReport{sr}); err != nil {
			t.Fatal(err)
		}
		var d *pb.Device
		st.View(func(tx *store.Tx) (err error) { d, err = tx.Device("d-1"); return })
		// geo.high_risk_peer holds 7 days from when it was seen.
		if hour <= 24*7 && d.GetScore() < 0.6 {
			t.Fatalf("%d h after the upgrade the device scores %.3f", hour, d.GetScore())
		}
		if hour == 24*7+1 && d.GetScore() >= before {
			t.Fatalf("past its hold the evidence did not start to fade: %.4f, an hour before %.4f", d.GetScore(), before)
		}
		before = d.GetScore()
	}
}

// A farm stored by a collector of schema 9 (its links inside the cluster
// record) reads the same after the upgrade moves them into entries of their
// own, and goes on growing: a new member's report links it.
func TestUpgradeKeepsFarms(t *testing.T) {
	dir := t.TempDir()
	st, err := store.Open(dir, store.Options{Analyze: NewEngine(DefaultConfig()).Analyze})
	if err != nil {
		t.Fatal(err)
	}
	const members = 7
	putFarmHires(t, st, members, "%02d")
	t0 := time.Date(2026, 11, 2, 15, 0, 0, 0, time.UTC)
	report := func(st *store.Store, i, round int) {
		t.Helper()
		at := t0.Add(time.Duration(round)*61*time.Minute + time.Duration(i)*time.Second)
		if _, err := st.Ingest(fmt.Sprintf("d-%02d", i), []*pb.StoredReport{farmReport(at, uint64(round+1))}); err != nil {
			t.Fatal(err)
		}
	}
	for round := range 3 {
		for i := range members - 1 { // d-06 comes after the upgrade
			report(st, i, round)
		}
	}
	views := func(st *store.Store) string {
		var sb strings.Builder
		if err := st.View(func(tx *store.Tx) error {
			cls, err := Clusters(tx)
			for _, cl := range cls {
				v, err := ClusterView(tx, cl)
				if err != nil {
					return err
				}
				fmt.Fprintf(&sb, "%s farm=%v members=%d\n", v.GetId(), v.GetFarm(), len(v.GetMembers()))
				for _, f := range v.GetFingerprints() {
					fmt.Fprintf(&sb, "  %s %s %s %v\n", f.GetKind(), f.GetValue(), f.GetStrength(), f.GetDeviceIds())
				}
			}
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return sb.String()
	}
	before := views(st)
	if !strings.Contains(before, "farm=true members=6") || strings.Count(before, "strong") != 2 {
		t.Fatalf("before the upgrade:\n%s", before)
	}
	st.Close()

	// Back to schema 9: each cluster's links inside its record.
	db, err := bolt.Open(filepath.Join(dir, store.File), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(store.BucketClusters)
		records := map[string]map[string]any{}
		links := map[string]map[string]map[string]any{}
		var linkKeys [][]byte
		b.ForEach(func(k, v []byte) error {
			c, kind, value, dev, ok := store.ParseClusterLinkKey(k)
			if !ok {
				var rec map[string]any
				json.Unmarshal(v, &rec)
				delete(rec, "rev")
				records[string(k)] = rec
				return nil
			}
			linkKeys = append(linkKeys, bytes.Clone(k))
			at, strong, _ := store.ParseClusterLinkValue(v)
			if links[c] == nil {
				links[c] = map[string]map[string]any{}
			}
			l := links[c][kind+"|"+value]
			if l == nil {
				l = map[string]any{"kind": kind, "value": value, "strong": strong, "devices": map[string]time.Time{}}
				links[c][kind+"|"+value] = l
			}
			l["devices"].(map[string]time.Time)[dev] = at
			return nil
		})
		for _, k := range linkKeys {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		for id, rec := range records {
			rec["links"] = links[id]
			v, _ := json.Marshal(rec)
			if err := b.Put([]byte(id), v); err != nil {
				return err
			}
		}
		if len(linkKeys) != 18 { // six devices, three fingerprints
			return fmt.Errorf("%d link entries, want 18", len(linkKeys))
		}
		return tx.Bucket([]byte("meta")).Put([]byte("schema_version"), binary.BigEndian.AppendUint64(nil, 9))
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()

	if st, err = store.Open(dir, store.Options{Analyze: NewEngine(DefaultConfig()).Analyze}); err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if after := views(st); after != before {
		t.Fatalf("after the upgrade:\n%s\nbefore:\n%s", after, before)
	}
	checkStoredClusters(t, st)
	for round := 3; round < 6; round++ { // linkable after cluster.min_link_reports
		report(st, members-1, round)
	}
	if after := views(st); !strings.Contains(after, "farm=true members=7") || !strings.Contains(after, "d-06") {
		t.Fatalf("a new member after the upgrade:\n%s", after)
	}
	checkStoredClusters(t, st)
}
