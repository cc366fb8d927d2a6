package analysis

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
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

// linksOf reads cl's links as the store would: a copy of its own each time.
func linksOf(cl *Cluster) linkReader {
	return func(string, int) (map[string]*ClusterLink, error) { return cl.clone().Links, nil }
}

// A cached cluster is handed out as a copy, and only for the exact bytes it
// was decoded from.
func TestClusterCacheCopiesAndValidates(t *testing.T) {
	big := bigCluster(200)
	raw, err := json.Marshal(big)
	if err != nil {
		t.Fatal(err)
	}
	c := newClusterCache(32 << 20)
	a, err := c.decode("C-000001", raw, linksOf(big))
	if err != nil {
		t.Fatal(err)
	}
	// A caller's changes (a transaction later rolled back) must not leak.
	a.Members["d-intruder"] = &Member{HireID: "x"}
	a.Links[FPBSSID+"|50:c7:bf:00:00:01"].Devices["d-intruder"] = time.Now()
	a.Observed.Place = "elsewhere"
	b, err := c.decode("C-000001", raw, func(string, int) (map[string]*ClusterLink, error) {
		t.Fatal("links read again for a cached record")
		return nil, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Members) != 200 || len(b.Links[FPBSSID+"|50:c7:bf:00:00:01"].Devices) != 200 || b.Observed.Place != "Phoenix, AZ, US" {
		t.Fatalf("cached cluster changed by a caller: %d members, place %q", len(b.Members), b.Observed.Place)
	}
	// Other bytes under the same id (another store, a newer record) decode afresh.
	big2 := bigCluster(201)
	big2.Rev = 2
	raw2, _ := json.Marshal(big2)
	d, err := c.decode("C-000001", raw2, linksOf(big2))
	if err != nil || len(d.Members) != 201 || len(d.Links[FPBSSID+"|50:c7:bf:00:00:01"].Devices) != 201 {
		t.Fatalf("stale cache entry used: %d members, %v", len(d.Members), err)
	}
	// The links are no part of the record.
	if bytes.Contains(raw2, []byte("50:c7:bf:00:00:01")) {
		t.Fatalf("the record holds the links: %s", raw2)
	}
}

// The cache holds at most its byte budget, and a record saved by the writer
// is read back without decoding, as a copy.
func TestClusterCacheBudgetAndWriteThrough(t *testing.T) {
	c := newClusterCache(64 << 10)
	for i := range 50 {
		cl := bigCluster(10)
		raw, _ := json.Marshal(cl)
		if _, err := c.decode(fmt.Sprintf("C-%06d", i), raw, linksOf(cl)); err != nil {
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
	got, err := c.decode(cl.ID, raw, linksOf(cl))
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
	// A small record whose links are many counts them too.
	linked := bigCluster(2000)
	linked.Members = map[string]*Member{}
	small, _ := json.Marshal(linked)
	c.saved("C-linked", small, linked)
	if _, ok := c.c.Get("C-linked", small); ok || len(small) > 16<<10/4 {
		t.Fatalf("a cluster of %d bytes of record and 2,000 links was cached in a budget of 64 KiB", len(small))
	}
}

// putFarmHires stores n hires, each with a device (h-NUM, d-NUM, the number
// in format), whose claimed homes are far apart: Austin, Seattle and Boston
// in turn.
func putFarmHires(tb testing.TB, st *store.Store, n int, format string) {
	tb.Helper()
	homes := []*pb.ClaimedHome{
		{Place: "Austin, Texas, US", Country: "US", Latitude: 30.27, Longitude: -97.74, TimeZone: "America/Chicago"},
		{Place: "Seattle, Washington, US", Country: "US", Latitude: 47.61, Longitude: -122.33, TimeZone: "America/Los_Angeles"},
		{Place: "Boston, Massachusetts, US", Country: "US", Latitude: 42.36, Longitude: -71.06, TimeZone: "America/New_York"},
	}
	if err := st.Update(func(tx *store.Tx) error {
		for i := range n {
			num := fmt.Sprintf(format, i)
			h := &pb.Hire{Id: "h-" + num, Name: "Hire " + num, Home: homes[i%len(homes)]}
			if err := tx.PutHire(h); err != nil {
				return err
			}
			if err := tx.PutDevice(&pb.Device{Id: "d-" + num, HireId: h.Id}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		tb.Fatal(err)
	}
}

// farmReport is a report from the test farm's network in Phoenix: its
// router, its Wi-Fi network and its public IP.
func farmReport(at time.Time, seq uint64) *pb.StoredReport {
	return &pb.StoredReport{ReceivedAt: timestamppb.New(at), PublicIp: "68.2.1.7",
		Location: &pb.IPLocation{Country: "US", City: "Phoenix", Latitude: 33.45, Longitude: -112.07, AccuracyKm: 20,
			TimeZone: "America/Phoenix", Geolocatable: true},
		Report: &pb.Report{Seq: seq, CollectedAt: timestamppb.New(at),
			Network: &pb.Network{GatewayMac: "50:c7:bf:00:00:01", Wifi: &pb.Wifi{Bssid: "50:c7:bf:00:00:02"}}}}
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
	const members = 12
	putFarmHires(t, st, members, "%02d")
	t0 := time.Date(2026, 11, 2, 15, 0, 0, 0, time.UTC)
	for round := range 6 {
		for i := range members {
			at := t0.Add(time.Duration(round)*61*time.Minute + time.Duration(i)*time.Second) // past fpRefresh: links are looked up again
			id := fmt.Sprintf("d-%02d", i)
			if _, err := st.Ingest(id, []*pb.StoredReport{farmReport(at, uint64(round+1))}); err != nil {
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
	var links map[string]map[string]*ClusterLink
	decodedClusters.c.Each(func(id string, raw []byte, cl *Cluster) {
		now, err := json.Marshal(cl)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(now, raw) {
			t.Fatalf("round %d, after %s: cached cluster %s was changed in place", round, after, id)
		}
		if id == clusterID {
			cached = true
			links = map[string]map[string]*ClusterLink{"cached": cl.clone().Links}
		}
	})
	if clusterID != "" && !cached {
		t.Fatalf("round %d, after %s: its cluster %s is not cached", round, after, clusterID)
	}
	if clusterID == "" {
		return
	}
	// The cached links are the stored entries, time for time.
	st.View(func(tx *store.Tx) error {
		stored, err := storedLinks(tx)(clusterID, 0)
		if err != nil {
			t.Fatal(err)
		}
		if a, b := describeLinks(links["cached"]), describeLinks(stored); a != b || a == "" {
			t.Fatalf("round %d, after %s: cluster %s cached with links\n%s\nstored\n%s", round, after, clusterID, a, b)
		}
		return nil
	})
}

// describeLinks lists links in order, a line per device.
func describeLinks(links map[string]*ClusterLink) string {
	var sb strings.Builder
	for _, k := range slices.Sorted(maps.Keys(links)) {
		l := links[k]
		for _, d := range slices.Sorted(maps.Keys(l.Devices)) {
			fmt.Fprintf(&sb, "%s %s strong=%v %s %d\n", l.Kind, l.Value, l.Strong, d, l.Devices[d].UnixNano())
		}
	}
	return sb.String()
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
	shared, err := c.shared("C-000001", raw, linksOf(bigCluster(60)))
	if err != nil {
		t.Fatal(err)
	}
	if shared, err = c.shared("C-000001", raw, nil); err != nil || shared.memo == nil {
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

// A save writes the links as they now are, whatever changed since the
// stored copy: a device linked again later, one added, one dropped, a link
// dropped, and the stored entries then read back as the cluster holds
// them, also in a store that never cached it.
func TestSaveWritesTheLinksAsTheyAre(t *testing.T) {
	dir := t.TempDir()
	st, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cl := bigCluster(4)
	ip := &ClusterLink{Kind: FPPublicIP, Value: "68.2.1.7", Devices: map[string]time.Time{}}
	for id := range cl.Members {
		ip.Devices[id] = cl.Created
	}
	cl.Links[FPPublicIP+"|68.2.1.7"] = ip
	check := func(step string, cl *Cluster) {
		t.Helper()
		st.View(func(tx *store.Tx) error {
			links, err := storedLinks(tx)(cl.ID, len(cl.Members))
			if err != nil {
				t.Fatal(err)
			}
			if a, b := describeLinks(cl.Links), describeLinks(links); a != b {
				t.Fatalf("%s: the cluster holds\n%s\nthe store\n%s", step, a, b)
			}
			return nil
		})
	}
	save := func(cl *Cluster) {
		t.Helper()
		if err := st.Update(func(tx *store.Tx) error { return clusterer{}.save(tx, cl) }); err != nil {
			t.Fatal(err)
		}
	}
	save(cl)
	check("first save", cl)
	bssid := FPBSSID + "|50:c7:bf:00:00:01"
	cl.Links[bssid].Devices["d-0000000000000001"] = cl.Created.Add(time.Hour) // linked again
	cl.Links[bssid].Devices["d-new"] = cl.Created.Add(2 * time.Hour)
	delete(cl.Links[bssid].Devices, "d-0000000000000002")
	delete(cl.Links, FPPublicIP+"|68.2.1.7")
	rev := cl.Rev
	save(cl)
	check("second save", cl)
	if cl.Rev == rev {
		t.Fatal("a save that changed the links kept the revision")
	}
	// A save that changes no link keeps the revision: another collector's
	// cached copy of the links stays good.
	rev = cl.Rev
	cl.Observed.Place = "Tempe, AZ, US"
	save(cl)
	if cl.Rev != rev {
		t.Fatal("a save that changed no link renewed the revision")
	}
	// A copy of the stored one, changed and saved: its stored copy is the
	// cache's.
	var again *Cluster
	st.View(func(tx *store.Tx) (err error) { again, err = clusterer{}.get(tx, cl.ID); return })
	again.Links[bssid].Devices["d-0000000000000003"] = cl.Created.Add(3 * time.Hour)
	save(again)
	check("third save", again)
	st.Close()
	// Read cold, by a process that never cached it.
	if st, err = store.Open(dir, store.Options{}); err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var cold *Cluster
	st.View(func(tx *store.Tx) (err error) {
		cold, err = newClusterCache(32<<20).decode(again.ID, tx.Get(store.BucketClusters, []byte(again.ID)), storedLinks(tx))
		return
	})
	if a, b := describeLinks(cold.Links), describeLinks(again.Links); a != b || !strings.Contains(a, "d-new") || strings.Contains(a, FPPublicIP) {
		t.Fatalf("read cold:\n%s\nsaved:\n%s", a, b)
	}
}

// Listing clusters reads the links of those the cache does not hold, in
// one walk when they are many (a collector just started), each cluster's
// own when they are few, and hands out the same clusters either way.
func TestClustersListedCold(t *testing.T) {
	st, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	saved := map[string]string{}
	if err := st.Update(func(tx *store.Tx) error {
		for i := range 40 {
			cl := bigCluster(2 + i%3)
			cl.ID = fmt.Sprintf("C-%06d", i+1)
			cl.Links[FPPublicIP+"|68.2.1.7"] = &ClusterLink{Kind: FPPublicIP, Value: "68.2.1.7",
				Devices: map[string]time.Time{"d-0000000000000000": cl.Created.Add(time.Duration(i) * time.Minute)}}
			if err := (clusterer{}).save(tx, cl); err != nil {
				return err
			}
			saved[cl.ID] = describeLinks(cl.Links)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	warm := decodedClusters
	t.Cleanup(func() { decodedClusters = warm })
	for _, cached := range []int{0, 37} { // 40 misses, then 3
		decodedClusters = newClusterCache(32 << 20)
		st.View(func(tx *store.Tx) error {
			for i := range cached {
				if _, err := LoadCluster(tx, fmt.Sprintf("C-%06d", i+1)); err != nil {
					t.Fatal(err)
				}
			}
			cls, err := Clusters(tx)
			if err != nil || len(cls) != 40 {
				t.Fatalf("%d clusters listed, %v", len(cls), err)
			}
			for _, cl := range cls {
				if got := describeLinks(cl.Links); got != saved[cl.ID] {
					t.Fatalf("%d cached: cluster %s listed with links\n%s\nsaved with\n%s", cached, cl.ID, got, saved[cl.ID])
				}
			}
			return nil
		})
	}
}
