package analysis

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/farmwatch/farmwatch/collector/store"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// harness is a real store with the engine on it, fed reports directly (no
// gRPC): what the ingest path does, minus the network.
type harness struct {
	t   *testing.T
	st  *store.Store
	eng *Engine
	cfg Config
	seq map[string]uint64
}

// place is a claimed home or where a public IP is located.
type city struct {
	name, country, zone string
	lat, lon            float64
}

var (
	austin    = city{"Austin, Texas, US", "US", "America/Chicago", 30.2672, -97.7431}
	seattle   = city{"Seattle, Washington, US", "US", "America/Los_Angeles", 47.6062, -122.3321}
	boston    = city{"Boston, Massachusetts, US", "US", "America/New_York", 42.3601, -71.0589}
	denver    = city{"Denver, Colorado, US", "US", "America/Denver", 39.7392, -104.9903}
	phoenix   = city{"Phoenix, Arizona, US", "US", "America/Phoenix", 33.4484, -112.0740}
	dallas    = city{"Dallas, Texas, US", "US", "America/Chicago", 32.7767, -96.7970}
	sanJose   = city{"Santa Clara, California, US", "US", "America/Los_Angeles", 37.3541, -121.9552}
	pyongyang = city{"Pyongyang, KP", "KP", "Asia/Pyongyang", 39.0392, 125.7625}
)

func newHarness(t *testing.T, yaml string) *harness {
	t.Helper()
	cfg, err := ParseConfig([]byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	cfg.ReportInterval = time.Hour
	eng := NewEngine(cfg)
	st, err := store.Open(t.TempDir(), store.Options{Analyze: eng.Analyze, Event: eng.RecordEvent, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return &harness{t: t, st: st, eng: eng, cfg: cfg, seq: map[string]uint64{}}
}

// hire adds a hire claiming home and an enrolled device "d-"+id.
func (h *harness) hire(id string, home city) string {
	h.t.Helper()
	dev := "d-" + id
	err := h.st.Update(func(tx *store.Tx) error {
		if err := tx.PutHire(&pb.Hire{Id: id, Name: "Hire " + id, Home: &pb.ClaimedHome{Place: home.name, Country: home.country,
			Latitude: home.lat, Longitude: home.lon, TimeZone: home.zone}}); err != nil {
			return err
		}
		return tx.PutDevice(&pb.Device{Id: dev, HireId: id, Hostname: "laptop-" + id})
	})
	if err != nil {
		h.t.Fatal(err)
	}
	return dev
}

// at is a report from a network: its public IP, where that is, its router,
// Wi-Fi and neighbours, and the laptop's clock.
type at struct {
	ip, gw, bssid string
	where         city
	asn           uint32
	nearby        []string
	zone          string // the laptop's clock; "" = where's
}

// report stores one report of dev received at t, taken on network n;
// mutate changes the report before it is stored.
func (h *harness) report(dev string, t time.Time, n at, mutate func(*pb.StoredReport)) {
	h.t.Helper()
	h.seq[dev]++
	zone := n.zone
	if zone == "" {
		zone = n.where.zone
	}
	r := &pb.Report{Seq: h.seq[dev], CollectedAt: timestamppb.New(t),
		Network: &pb.Network{GatewayMac: n.gw, Wifi: &pb.Wifi{Bssid: n.bssid}},
		Locale:  &pb.Locale{TimeZone: zone}, Activity: &pb.Activity{IdleSeconds: 60, ConsoleUserPresent: true},
		Power: &pb.Power{OnAc: true, Lid: "open"}}
	for i, b := range n.nearby {
		r.Network.Wifi.Nearby = append(r.Network.Wifi.Nearby, &pb.BSS{Bssid: b, SignalDbm: int32(-50 - i)})
	}
	asn := n.asn
	if asn == 0 {
		asn = 7922
	}
	sr := &pb.StoredReport{Report: r, ReceivedAt: timestamppb.New(t), PublicIp: n.ip,
		Location: &pb.IPLocation{Country: n.where.country, City: n.where.name, Latitude: n.where.lat, Longitude: n.where.lon,
			AccuracyKm: 20, TimeZone: n.where.zone, Asn: asn, Geolocatable: true}}
	if mutate != nil {
		mutate(sr)
	}
	if _, err := h.st.Ingest(dev, []*pb.StoredReport{sr}); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) sweep(t time.Time) {
	h.t.Helper()
	if err := h.st.Update(func(tx *store.Tx) error { _, err := h.eng.Sweep(tx, t); return err }); err != nil {
		h.t.Fatal(err)
	}
}

// lines is the device's evidence at t, by rule.
func (h *harness) lines(dev string, t time.Time) map[string]*pb.Evidence {
	out := map[string]*pb.Evidence{}
	h.st.View(func(tx *store.Tx) error {
		for _, e := range CurrentEvidence(tx, h.cfg, dev, t) {
			out[e.GetRule()] = e
		}
		return nil
	})
	return out
}

// linesList is lines in the engine's order.
func (h *harness) linesList(dev string, t time.Time) (out []*pb.Evidence) {
	h.st.View(func(tx *store.Tx) error { out = CurrentEvidence(tx, h.cfg, dev, t); return nil })
	return out
}

// device reads a device record.
func (h *harness) device(dev string) *pb.Device {
	var d *pb.Device
	h.st.View(func(tx *store.Tx) (err error) { d, err = tx.Device(dev); return })
	return d
}

// alerts lists the open alerts naming dev, by kind.
func (h *harness) alerts(dev string) map[string]*pb.Alert {
	out := map[string]*pb.Alert{}
	h.st.View(func(tx *store.Tx) error {
		al, err := tx.Alerts(func(a *pb.Alert) bool {
			if a.GetStatus() == "resolved" {
				return false
			}
			if a.GetDeviceId() == dev {
				return true
			}
			for _, m := range a.GetMemberDevices() {
				if m == dev {
					return true
				}
			}
			return false
		})
		for _, a := range al {
			out[a.GetKind()] = a
		}
		return err
	})
	return out
}

// cluster reads the cluster of dev, nil if none, after checking that every
// cluster reads the same from the store as from the cache.
func (h *harness) cluster(dev string) *Cluster {
	h.t.Helper()
	checkStoredClusters(h.t, h.st)
	var cl *Cluster
	h.st.View(func(tx *store.Tx) (err error) { cl, err = clusterer{cfg: &h.cfg}.load(tx, dev); return })
	return cl
}

// checkStoredClusters reads every cluster from its stored record and link
// entries, bypassing the cache, and fails if it differs from what the cache
// hands out, or if a link entry names a cluster without a record or a
// device that is no member: what a save that wrote the wrong rows leaves.
func checkStoredClusters(t testing.TB, st *store.Store) {
	t.Helper()
	st.View(func(tx *store.Tx) error {
		records := map[string]*Cluster{}
		tx.ScanRecords(store.BucketClusters, func(k, v []byte) bool {
			cl := &Cluster{}
			if err := json.Unmarshal(v, cl); err != nil {
				t.Fatalf("cluster %s: %v", k, err)
			}
			records[string(k)] = cl
			return true
		})
		tx.Scan(store.BucketClusters, nil, func(k, v []byte) bool {
			id, _, _, dev, ok := store.ParseClusterLinkKey(k)
			if !ok {
				return true // a record
			}
			if cl := records[id]; cl == nil || cl.Members[dev] == nil {
				t.Fatalf("link entry %q of no cluster or no member", k)
			}
			return true
		})
		for id, cold := range records {
			links, err := storedLinks(tx)(id, len(cold.Members))
			if err != nil {
				t.Fatal(err)
			}
			cached, err := LoadCluster(tx, id)
			if err != nil {
				t.Fatal(err)
			}
			if a, b := describeLinks(cached.Links), describeLinks(links); a != b {
				t.Fatalf("cluster %s: the cache holds links\n%s\nthe store\n%s", id, a, b)
			}
			if !maps.EqualFunc(cold.Members, cached.Members, func(a, b *Member) bool { return a.HireID == b.HireID && a.JoinedAt.Equal(b.JoinedAt) }) {
				t.Fatalf("cluster %s: members differ between the store and the cache", id)
			}
		}
		return nil
	})
}

// writeConfig writes yaml into a file for tests that need a path.
func writeConfig(t *testing.T, yaml string) string {
	p := filepath.Join(t.TempDir(), "analysis.yaml")
	if err := os.WriteFile(p, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func mac(a, b, c, d byte) string { return fmt.Sprintf("%02x:%02x:%02x:00:00:%02x", a, b, c, d) }
