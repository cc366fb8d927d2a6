package analysis

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"
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
	if c.bytes > c.maxBytes || len(c.entries) == 0 {
		t.Fatalf("cache holds %d bytes in %d entries, budget %d", c.bytes, len(c.entries), c.maxBytes)
	}
	cl := bigCluster(3)
	raw, _ := json.Marshal(cl)
	c.saved(cl.ID, raw, cl)
	cl.Members["d-later"] = &Member{HireID: "h-later"} // the writer's copy moves on
	got, err := c.decode(cl.ID, raw)
	if err != nil || len(got.Members) != 3 {
		t.Fatalf("saved record read back with %d members (%v), want the 3 it was saved with", len(got.Members), err)
	}
	if e := c.entries[cl.ID]; e.cl == got {
		t.Fatal("cache handed out its own copy")
	}
	huge, _ := json.Marshal(bigCluster(2000))
	c.saved("C-huge", huge, bigCluster(1))
	if _, ok := c.entries["C-huge"]; ok {
		t.Fatal("a record over a quarter of the budget was cached")
	}
}
