package analysis

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/farmwatch/farmwatch/collector/store"
	"github.com/farmwatch/farmwatch/geo"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// Fingerprint kinds. Gateway MACs and the connected Wi-Fi BSSID are strong
// links (one physical network); a public IP is weaker (CGNAT, offices,
// coffee shops).
const (
	FPGatewayMAC = "gateway_mac"
	FPBSSID      = "bssid"
	FPPublicIP   = "public_ip"
)

// Fingerprint is one network identity a report shows.
type Fingerprint struct {
	Kind, Value string
	Strong      bool
}

// Cluster is a set of devices linked by shared fingerprints.
type Cluster struct {
	ID       string                  `json:"id"`
	Members  map[string]*Member      `json:"members"`
	Links    map[string]*ClusterLink `json:"links"`
	Farm     bool                    `json:"farm"`
	IPOnly   bool                    `json:"ip_only,omitempty"`
	Reason   string                  `json:"reason,omitempty"`
	AlertID  string                  `json:"alert_id,omitempty"`
	Created  time.Time               `json:"created"`
	Updated  time.Time               `json:"updated"`
	Observed *Observation            `json:"observed,omitempty"`

	// readOnly marks the decoded-cluster cache's own copy, handed out by
	// loadShared: clone it before changing anything. memo holds what is
	// derived from that copy, computed once.
	readOnly bool
	memo     *clusterMemo
}

// Member is a device in a cluster.
type Member struct {
	HireID   string    `json:"hire_id"`
	JoinedAt time.Time `json:"joined_at"`
}

// ClusterLink is a fingerprint shared inside a cluster.
type ClusterLink struct {
	Kind    string               `json:"kind"`
	Value   string               `json:"value"`
	Strong  bool                 `json:"strong"`
	Devices map[string]time.Time `json:"devices"`
}

// fingerprints lists the identities of the network a report came from.
func fingerprints(cfg *Config, sr *pb.StoredReport) []Fingerprint {
	var out []Fingerprint
	n := sr.GetReport().GetNetwork()
	if m := normMAC(n.GetGatewayMac()); m != "" {
		out = append(out, Fingerprint{FPGatewayMAC, m, true})
	}
	if b := normMAC(n.GetWifi().GetBssid()); b != "" {
		out = append(out, Fingerprint{FPBSSID, b, true})
	}
	if ip := sr.GetPublicIp(); ip != "" && linkableIP(cfg, sr) {
		out = append(out, Fingerprint{FPPublicIP, ip, false})
	}
	return out
}

func normMAC(m string) string {
	m = strings.ToLower(strings.TrimSpace(m))
	if m == "" || m == "00:00:00:00:00:00" || m == "ff:ff:ff:ff:ff:ff" {
		return ""
	}
	return m
}

// linkableIP: a public IP links devices only when it is a real, ordinary
// address: not special, not the company's egress, not a hosting/VPN network,
// not a mobile carrier's CGNAT pool.
func linkableIP(cfg *Config, sr *pb.StoredReport) bool {
	loc := sr.GetLocation()
	if a, err := netip.ParseAddr(sr.GetPublicIp()); err != nil || !a.IsGlobalUnicast() || a.IsPrivate() {
		return false
	}
	if loc.GetRange() != "" || loc.GetAnonymizer() != "" || cfg.companyEgress(sr.GetPublicIp()) {
		return false
	}
	return !slices.Contains(cfg.Cluster.SharedIPExcludeASNs, loc.GetAsn())
}

// fpRefresh is how often a linkable device's fingerprint entry is renewed
// and its links looked up again; far below the link window.
const fpRefresh = time.Hour

func fpKey(kind, value, device string) []byte {
	return []byte(kind + "\x00" + value + "\x00" + device)
}

// clusterer keeps the fingerprint index and the clusters in the store.
type clusterer struct {
	cfg *Config
}

// observe records the report's fingerprints and links the device to other
// devices that showed the same ones within the window. It returns the
// device's cluster (nil if it has none) and whether the cluster changed.
func (c clusterer) observe(tx *store.Tx, dev *pb.Device, sr *pb.StoredReport, now time.Time) (*Cluster, bool, error) {
	window := time.Duration(c.cfg.Cluster.WindowHours * float64(time.Hour))
	type link struct {
		other string
		fp    Fingerprint
	}
	var links []link
	for _, fp := range fingerprints(c.cfg, sr) {
		own := fpKey(fp.Kind, fp.Value, dev.GetId())
		count := uint32(0)
		var last time.Time
		if v := tx.Get(store.BucketFingerprints, own); len(v) == 12 {
			last = time.Unix(int64(binary.BigEndian.Uint64(v)), 0)
			count = binary.BigEndian.Uint32(v[8:])
		}
		// Once a device is linkable on a fingerprint, its entry is rewritten
		// (and the others looked up) only every fpRefresh: a farm member's
		// every report would otherwise write three keys and scan every other
		// member, O(n) per report.
		min := uint32(c.cfg.Cluster.MinLinkReports)
		if count >= min && now.Sub(last) < fpRefresh && !now.Before(last) {
			continue
		}
		if count < 1<<31 {
			count++
		}
		val := binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint64(nil, uint64(now.Unix())), count)
		if err := tx.Put(store.BucketFingerprints, own, val); err != nil {
			return nil, false, err
		}
		if count < min {
			continue
		}
		prefix := []byte(fp.Kind + "\x00" + fp.Value + "\x00")
		tx.Scan(store.BucketFingerprints, prefix, func(k, v []byte) bool {
			other := string(k[len(prefix):])
			if other == dev.GetId() || len(v) != 12 {
				return true
			}
			seen := time.Unix(int64(binary.BigEndian.Uint64(v)), 0)
			if now.Sub(seen) <= window && binary.BigEndian.Uint32(v[8:]) >= min {
				links = append(links, link{other, fp})
			}
			return len(links) < 10000
		})
	}
	// The device's cluster is read shared, without a copy: most reports of a
	// member change nothing in it that is stored (a held link's time, the
	// same place), and copying a farm of a thousand for each of them was a
	// tenth of the collector's time. It is copied once something will be
	// saved.
	cl, err := c.loadShared(tx, dev.GetId())
	if err != nil {
		return nil, false, err
	}
	own := func() {
		if cl != nil && cl.readOnly {
			cl = cl.clone()
		}
	}
	changed := false
	var held []string // links the cluster holds: only the device's time moves
	for _, l := range links {
		// A link the cluster already holds only gets the device's time: no
		// reload, merge, save or re-judging per member, which made every report
		// of a farm of n devices cost O(n) cluster decodes.
		if cl != nil && cl.Members[l.other] != nil {
			if key := l.fp.Kind + "|" + l.fp.Value; cl.Links[key].has(dev.GetId(), l.other) {
				held = append(held, key)
				continue
			}
		}
		own()
		if cl, err = c.join(tx, cl, dev, l.other, l.fp, now); err != nil {
			return nil, false, err
		}
		changed = true
	}
	if cl == nil {
		return nil, false, nil
	}
	dirty := changed
	var observed *Observation
	if loc := sr.GetLocation(); loc.GetGeolocatable() && !c.cfg.companyEgress(sr.GetPublicIp()) {
		o := &Observation{Lat: loc.GetLatitude(), Lon: loc.GetLongitude(), AccuracyKM: loc.GetAccuracyKm(),
			At: now, IP: sr.GetPublicIp(), Place: place(loc)}
		dirty = dirty || cl.Observed == nil || cl.Observed.IP != o.IP || cl.Observed.Place != o.Place ||
			cl.Observed.Lat != o.Lat || cl.Observed.Lon != o.Lon
		observed = o
	}
	if !dirty {
		// Same members, links and place: only times moved, which nobody
		// reads back; rewriting the whole cluster for them made each report
		// of a farm cost a write the size of the farm. cl may be the shared
		// copy: the caller reads it and copies it before any change.
		return cl, false, nil
	}
	own()
	for _, key := range held {
		cl.Links[key].Devices[dev.GetId()] = now
	}
	if observed != nil {
		cl.Observed = observed
	}
	if changed {
		if err := c.judge(tx, cl); err != nil {
			return nil, false, err
		}
		cl.Updated = now
	}
	return cl, changed, c.save(tx, cl)
}

// has tells whether the link already joins both devices.
func (l *ClusterLink) has(a, b string) bool {
	if l == nil {
		return false
	}
	_, okA := l.Devices[a]
	_, okB := l.Devices[b]
	return okA && okB
}

func (c clusterer) load(tx *store.Tx, device string) (*Cluster, error) {
	id := tx.Get(store.BucketClusterOf, []byte(device))
	if id == nil {
		return nil, nil
	}
	return c.get(tx, string(id))
}

// loadShared is load without the copy: the cluster returned is marked
// readOnly when it is the cache's, and must be cloned before any change.
func (c clusterer) loadShared(tx *store.Tx, device string) (*Cluster, error) {
	id := tx.GetView(store.BucketClusterOf, []byte(device))
	if id == nil {
		return nil, nil
	}
	// A view, not a copy: a farm's record is hundreds of kilobytes, and the
	// cache copies it only when it keeps a newly decoded one.
	v := tx.GetView(store.BucketClusters, id)
	if v == nil {
		return nil, fmt.Errorf("cluster %s: %w", id, store.ErrNotFound)
	}
	return decodedClusters.shared(string(id), v)
}

func (c clusterer) get(tx *store.Tx, id string) (*Cluster, error) {
	v := tx.GetView(store.BucketClusters, []byte(id)) // decode copies what it keeps
	if v == nil {
		return nil, fmt.Errorf("cluster %s: %w", id, store.ErrNotFound)
	}
	return decodedClusters.decode(id, v)
}

func (c clusterer) save(tx *store.Tx, cl *Cluster) error {
	b, err := json.Marshal(cl)
	if err != nil {
		return err
	}
	if err := tx.Put(store.BucketClusters, []byte(cl.ID), b); err != nil {
		return err
	}
	decodedClusters.saved(cl.ID, b, cl)
	return nil
}

// join links dev (whose cluster is cl, possibly nil) with other through fp,
// merging clusters as needed (the larger absorbs the smaller, so ids stay
// stable as a farm grows).
func (c clusterer) join(tx *store.Tx, cl *Cluster, dev *pb.Device, other string, fp Fingerprint, now time.Time) (*Cluster, error) {
	ocl := cl // a member of cl: the copy in hand is newer than the stored one
	if cl == nil || cl.Members[other] == nil {
		var err error
		if ocl, err = c.load(tx, other); err != nil {
			return nil, err
		}
	}
	switch {
	case cl == nil && ocl == nil:
		id, err := tx.NextID(store.BucketClusters, "C")
		if err != nil {
			return nil, err
		}
		cl = &Cluster{ID: id, Members: map[string]*Member{}, Links: map[string]*ClusterLink{}, Created: now}
		if err := c.addMember(tx, cl, other, now); err != nil {
			return nil, err
		}
	case cl == nil:
		cl = ocl
	case ocl != nil && ocl.ID != cl.ID:
		big, small := cl, ocl
		if len(small.Members) > len(big.Members) || (len(small.Members) == len(big.Members) && small.ID < big.ID) {
			big, small = small, big
		}
		for id, m := range small.Members {
			big.Members[id] = m
			if err := tx.Put(store.BucketClusterOf, []byte(id), []byte(big.ID)); err != nil {
				return nil, err
			}
		}
		for k, l := range small.Links {
			if bl, ok := big.Links[k]; ok {
				for d, t := range l.Devices {
					bl.Devices[d] = t
				}
			} else {
				big.Links[k] = l
			}
		}
		if err := mergeAlert(tx, small, big, now); err != nil {
			return nil, err
		}
		if err := tx.Delete(store.BucketClusters, []byte(small.ID)); err != nil {
			return nil, err
		}
		cl = big
	}
	if _, ok := cl.Members[dev.GetId()]; !ok {
		if err := c.addMember(tx, cl, dev.GetId(), now); err != nil {
			return nil, err
		}
	}
	if _, ok := cl.Members[other]; !ok {
		if err := c.addMember(tx, cl, other, now); err != nil {
			return nil, err
		}
	}
	k := fp.Kind + "|" + fp.Value
	l := cl.Links[k]
	if l == nil {
		l = &ClusterLink{Kind: fp.Kind, Value: fp.Value, Strong: fp.Strong, Devices: map[string]time.Time{}}
		cl.Links[k] = l
	}
	l.Devices[dev.GetId()] = now
	if _, ok := l.Devices[other]; !ok {
		l.Devices[other] = now
	}
	// observe saves the cluster once, after every link of the report: its
	// members are found in cl above, never reloaded from the store.
	return cl, nil
}

func (c clusterer) addMember(tx *store.Tx, cl *Cluster, device string, now time.Time) error {
	d, err := tx.Device(device)
	if err != nil {
		return err
	}
	cl.Members[device] = &Member{HireID: d.GetHireId(), JoinedAt: now}
	if err := tx.Put(store.BucketClusterOf, []byte(device), []byte(cl.ID)); err != nil {
		return err
	}
	d.ClusterId = cl.ID
	return tx.PutDevice(d)
}

// mergeAlert closes the absorbed cluster's farm alert, pointing at the
// surviving cluster.
func mergeAlert(tx *store.Tx, small, big *Cluster, now time.Time) error {
	if small.AlertID == "" {
		return nil
	}
	a, err := tx.Alert(small.AlertID)
	if err != nil {
		return err
	}
	if a.GetStatus() == "resolved" {
		return nil
	}
	a.Status, a.Verdict = "resolved", "merged"
	a.Note = "cluster " + small.ID + " merged into " + big.ID
	a.UpdatedAt = tsOf(now)
	a.ResolvedAt = tsOf(now)
	a.ResolvedBy = "farmwatch"
	if big.AlertID == "" {
		big.AlertID = "" // the survivor opens its own alert when judged a farm
	}
	return tx.PutAlert(small.ID, a)
}

// judge decides whether a cluster is a laptop farm: devices of two or more
// hires whose claimed homes are far apart, on one physical network (a strong
// link), or behind one public IP with enough hires to rule out chance.
func (c clusterer) judge(tx *store.Tx, cl *Cluster) error {
	homes := map[string]*pb.ClaimedHome{}
	for _, m := range cl.Members {
		if _, ok := homes[m.HireID]; ok {
			continue
		}
		h, err := tx.HireShared(m.HireID)
		if err != nil {
			return err
		}
		homes[m.HireID] = h.GetHome()
	}
	strong := false
	for _, l := range cl.Links {
		strong = strong || l.Strong
	}
	// Group hires whose homes lie within min_home_distance_km of each other
	// (roommates, a couple): each group is one claimed place.
	var places [][]string
	ids := slices.Sorted(maps.Keys(homes))
	for _, id := range ids {
		placed := false
		for i, g := range places {
			if homeDistance(homes[id], homes[g[0]]) <= c.cfg.Cluster.MinHomeDistanceKM {
				places[i] = append(g, id)
				placed = true
				break
			}
		}
		if !placed {
			places = append(places, []string{id})
		}
	}
	switch {
	case len(places) >= 2 && strong:
		cl.Farm, cl.IPOnly = true, false
	case len(places) >= c.cfg.Cluster.IPOnlyMinHires:
		cl.Farm, cl.IPOnly = true, true
	default:
		cl.Farm = false
	}
	var names []string
	for _, g := range places {
		names = append(names, homes[g[0]].GetPlace())
	}
	kinds := map[string]int{}
	for _, l := range cl.Links {
		kinds[l.Kind]++
	}
	var shared []string
	for _, k := range []string{FPGatewayMAC, FPBSSID, FPPublicIP} {
		if kinds[k] > 0 {
			shared = append(shared, strings.ReplaceAll(k, "_", " "))
		}
	}
	cl.Reason = fmt.Sprintf("%d devices of %d hires claiming %d different homes (%s) share %s",
		len(cl.Members), len(homes), len(places), strings.Join(names, "; "), strings.Join(shared, ", "))
	return nil
}

func homeDistance(a, b *pb.ClaimedHome) float64 {
	if a == nil || b == nil {
		return 0
	}
	return geo.DistanceKM(a.GetLatitude(), a.GetLongitude(), b.GetLatitude(), b.GetLongitude())
}

// ClusterView turns a stored cluster into the API's view.
func ClusterView(tx *store.Tx, cl *Cluster) (*pb.Cluster, error) {
	out := &pb.Cluster{Id: cl.ID, Farm: cl.Farm, Reason: cl.Reason, CreatedAt: tsOf(cl.Created), UpdatedAt: tsOf(cl.Updated), AlertId: cl.AlertID}
	if o := cl.Observed; o != nil {
		out.ObservedPlace, out.ObservedLatitude, out.ObservedLongitude = o.Place+" ("+o.IP+")", o.Lat, o.Lon
	}
	ids := slices.Sorted(maps.Keys(cl.Members))
	for _, id := range ids {
		m := cl.Members[id]
		cm := &pb.ClusterMember{DeviceId: id, HireId: m.HireID, JoinedAt: tsOf(m.JoinedAt), DistanceKm: -1}
		if h, err := tx.HireShared(m.HireID); err == nil {
			cm.HireName, cm.ClaimedHome = h.GetName(), h.GetHome().GetPlace()
			if o := cl.Observed; o != nil && h.GetHome() != nil {
				cm.DistanceKm = geo.DistanceKM(h.GetHome().GetLatitude(), h.GetHome().GetLongitude(), o.Lat, o.Lon)
			}
		}
		if d, err := tx.Device(id); err == nil {
			cm.Hostname = d.GetHostname()
		}
		out.Members = append(out.Members, cm)
	}
	keys := slices.Sorted(maps.Keys(cl.Links))
	for _, k := range keys {
		l := cl.Links[k]
		sf := &pb.SharedFingerprint{Kind: l.Kind, Value: l.Value, Strength: "weak"}
		if l.Strong {
			sf.Strength = "strong"
		}
		for d := range l.Devices {
			sf.DeviceIds = append(sf.DeviceIds, d)
		}
		sort.Strings(sf.DeviceIds)
		out.Fingerprints = append(out.Fingerprints, sf)
	}
	return out, nil
}

// LoadCluster reads one cluster.
func LoadCluster(tx *store.Tx, id string) (*Cluster, error) { return clusterer{}.get(tx, id) }

// Clusters lists every cluster for reading only: cached clusters are the
// cache's own copies, not copied for a list that only reads them (a deep copy
// of every cluster, farms of hundreds included, on each `clusters list`).
func Clusters(tx *store.Tx) ([]*Cluster, error) {
	var out []*Cluster
	var err error
	tx.Scan(store.BucketClusters, nil, func(k, v []byte) bool {
		var cl *Cluster
		if cl, err = decodedClusters.shared(string(k), v); err != nil {
			return false
		}
		out = append(out, cl)
		return true
	})
	return out, err
}
