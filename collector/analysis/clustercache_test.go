package analysis

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/farmwatch/farmwatch/collector/store"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

func bigCluster(n int) *Cluster {
	at := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	cl := &Cluster{ID: "C-000001", Members: map[string]*Member{}, Links: map[string]*ClusterLink{}, Farm: true, Created: at,
		Observed: &Observation{Lat: 33.4, Lon: -112.1, IP: "68.2.1.7", Place: "Phoenix, AZ, US", At: at}}
	l := &ClusterLink{Kind: FPBSSID, Value: "50:c7:bf:00:00:01", Strong: true, Devices: map[string]time.Time{}}
	cl.Links[l.Kind+"|"+l.Value] = l
	for i := range n {
		id := fmt.Sprintf("d-%016x", i)
		cl.Members[id] = &Member{HireID: fmt.Sprintf("h-%d", i), JoinedAt: at}
		l.Devices[id] = at
	}
	return cl
}

// A cached cluster is handed out as a copy, and only for the exact bytes it
// was decoded from.
func TestClusterCacheCopiesAndValidates(t *testing.T) {
	raw, err := json.Marshal(bigCluster(200))
	if err != nil {
		t.Fatal(err)
	}
	c := newClusterCache(32 << 20)
	a, err := c.decode("C-000001", raw)
	if err != nil {
		t.Fatal(err)
	}
	// A caller's changes (a transaction later rolled back) must not leak.
	a.Members["d-intruder"] = &Member{HireID: "x"}
	a.Links[FPBSSID+"|50:c7:bf:00:00:01"].Devices["d-intruder"] = time.Now()
	a.Observed.Place = "elsewhere"
	b, err := c.decode("C-000001", raw)
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Members) != 200 || len(b.Links[FPBSSID+"|50:c7:bf:00:00:01"].Devices) != 200 || b.Observed.Place != "Phoenix, AZ, US" {
		t.Fatalf("cached cluster changed by a caller: %d members, place %q", len(b.Members), b.Observed.Place)
	}
	// Other bytes under the same id (another store, a newer record) decode afresh.
	raw2, _ := json.Marshal(bigCluster(201))
	d, err := c.decode("C-000001", raw2)
	if err != nil || len(d.Members) != 201 {
		t.Fatalf("stale cache entry used: %d members, %v", len(d.Members), err)
	}
}

// The cache holds at most its byte budget, and a record saved by the writer
// is read back without decoding, as a copy.
func TestClusterCacheBudgetAndWriteThrough(t *testing.T) {
	c := newClusterCache(64 << 10)
	for i := range 50 {
		raw, _ := json.Marshal(bigCluster(10))
		if _, err := c.decode(fmt.Sprintf("C-%06d", i), raw); err != nil {
			t.Fatal(err)
		}
	}
	if c.c.Bytes() > 64<<10 || c.c.Len() == 0 {
		t.Fatalf("cache holds %d bytes in %d entries, budget %d", c.c.Bytes(), c.c.Len(), 64<<10)
	}
	cl := bigCluster(3)
	raw, _ := json.Marshal(cl)
	c.saved(cl.ID, raw, cl)
	cl.Members["d-later"] = &Member{HireID: "h-later"} // the writer's copy moves on
	got, err := c.decode(cl.ID, raw)
	if err != nil || len(got.Members) != 3 {
		t.Fatalf("saved record read back with %d members (%v), want the 3 it was saved with", len(got.Members), err)
	}
	if own, _ := c.c.Get(cl.ID, raw); own == got || !own.readOnly || got.readOnly {
		t.Fatal("decode handed out the cache's own copy")
	}
	huge, _ := json.Marshal(bigCluster(2000))
	c.saved("C-huge", huge, bigCluster(1))
	if _, ok := c.c.Get("C-huge", huge); ok {
		t.Fatal("a record over a quarter of the budget was cached")
	}
}

// Reports of a farm's members read its cluster shared, without a copy: no
// report may change the cache's copy, which must always be what its stored
// bytes say, and the farm must still form and hold every member.
func TestSharedClusterNeverChanged(t *testing.T) {
	st, err := store.Open(t.TempDir(), store.Options{Analyze: NewEngine(DefaultConfig()).Analyze})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	homes := []*pb.ClaimedHome{
		{Place: "Austin, Texas, US", Country: "US", Latitude: 30.27, Longitude: -97.74, TimeZone: "America/Chicago"},
		{Place: "Seattle, Washington, US", Country: "US", Latitude: 47.61, Longitude: -122.33, TimeZone: "America/Los_Angeles"},
		{Place: "Boston, Massachusetts, US", Country: "US", Latitude: 42.36, Longitude: -71.06, TimeZone: "America/New_York"},
	}
	const members = 12
	if err := st.Update(func(tx *store.Tx) error {
		for i := range members {
			h := &pb.Hire{Id: fmt.Sprintf("h-%02d", i), Name: fmt.Sprintf("Hire %d", i), Home: homes[i%len(homes)]}
			if err := tx.PutHire(h); err != nil {
				return err
			}
			if err := tx.PutDevice(&pb.Device{Id: fmt.Sprintf("d-%02d", i), HireId: h.Id}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 2, 15, 0, 0, 0, time.UTC)
	for round := range 6 {
		for i := range members {
			at := t0.Add(time.Duration(round)*61*time.Minute + time.Duration(i)*time.Second) // past fpRefresh: links are looked up again
			id := fmt.Sprintf("d-%02d", i)
			sr := &pb.StoredReport{ReceivedAt: timestamppb.New(at), PublicIp: "68.2.1.7",
				Location: &pb.IPLocation{Country: "US", City: "Phoenix", Latitude: 33.45, Longitude: -112.07, AccuracyKm: 20,
					TimeZone: "America/Phoenix", Geolocatable: true},
				Report: &pb.Report{Seq: uint64(round + 1), CollectedAt: timestamppb.New(at),
					Network: &pb.Network{GatewayMac: "50:c7:bf:00:00:01", Wifi: &pb.Wifi{Bssid: "50:c7:bf:00:00:02"}}}}
			if _, err := st.Ingest(id, []*pb.StoredReport{sr}); err != nil {
				t.Fatal(err)
			}
			checkClusterCache(t, st, round, id)
		}
	}
	var farm *Cluster
	st.View(func(tx *store.Tx) error {
		farm, err = clusterer{}.load(tx, "d-00")
		return err
	})
	if farm == nil || !farm.Farm || len(farm.Members) != members {
		t.Fatalf("farm not formed: %+v", farm)
	}
}

// checkClusterCache fails if a cached cluster is no longer exactly the bytes
// it was cached for (changed in place by a report), or if the device's
// cluster is not cached at all (every report should leave it there).
func checkClusterCache(t *testing.T, st *store.Store, round int, after string) {
	t.Helper()
	var clusterID string
	st.View(func(tx *store.Tx) error { clusterID = string(tx.Get(store.BucketClusterOf, []byte(after))); return nil })
	cached := false
	decodedClusters.c.Each(func(id string, raw []byte, cl *Cluster) {
		now, err := json.Marshal(cl)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(now, raw) {
			t.Fatalf("round %d, after %s: cached cluster %s was changed in place", round, after, id)
		}
		cached = cached || id == clusterID
	})
	if clusterID != "" && !cached {
		t.Fatalf("round %d, after %s: its cluster %s is not cached", round, after, clusterID)
	}
}

// BenchmarkClusterDecodeVsClone is why every cluster record is cached: a deep
// copy costs about a tenth of decoding the JSON, at every size.
//
//	go test -run '^$' -bench ClusterDecodeVsClone ./collector/analysis/
func BenchmarkClusterDecodeVsClone(b *testing.B) {
	for _, n := range []int{2, 10, 100, 1000} {
		cl := bigCluster(n)
		raw, err := json.Marshal(cl)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("decode/members=%d", n), func(b *testing.B) {
			b.SetBytes(int64(len(raw)))
			for i := 0; i < b.N; i++ {
				var c Cluster
				if err := json.Unmarshal(raw, &c); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("clone/members=%d", n), func(b *testing.B) {
			b.SetBytes(int64(len(raw)))
			for i := 0; i < b.N; i++ {
				cl.clone()
			}
		})
	}
}

// The cache's copy names the same first members as a pass over the farm, for
// every member it is asked for, and a copy taken from it recomputes them.
func TestFirstMembersMemo(t *testing.T) {
	raw, err := json.Marshal(bigCluster(60))
	if err != nil {
		t.Fatal(err)
	}
	c := newClusterCache(32 << 20)
	shared, err := c.shared("C-000001", raw)
	if err != nil {
		t.Fatal(err)
	}
	if shared, err = c.shared("C-000001", raw); err != nil || shared.memo == nil {
		t.Fatalf("second read is not the cache's copy: memo %v, %v", shared.memo, err)
	}
	for _, except := range []string{"d-0000000000000000", "d-0000000000000018", "d-0000000000000019", "d-000000000000003b", "d-none"} {
		want := firstIDs(shared.Members, except, colocatedNames)
		if got := shared.firstMembers(except); !slices.Equal(got, want) {
			t.Fatalf("except %s: memo %v, pass %v", except, got, want)
		}
		if len(want) != colocatedNames || slices.Contains(want, except) {
			t.Fatalf("except %s: %d names, %v", except, len(want), want)
		}
	}
	own := shared.clone()
	delete(own.Members, "d-0000000000000001")
	if got := own.firstMembers("d-0000000000000000"); slices.Contains(got, "d-0000000000000001") || own.memo != nil {
		t.Fatalf("a changed copy used the shared memo: %v", got)
	}
}
