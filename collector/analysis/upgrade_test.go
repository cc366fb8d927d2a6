package analysis

import (
	"encoding/binary"
	"path/filepath"
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
