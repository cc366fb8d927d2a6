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
	if len(raw) < clusterCacheMinBytes {
		t.Fatalf("test cluster is %d bytes, below the cache threshold", len(raw))
	}
	c := &clusterCache{entries: map[string]cachedCluster{}}
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
