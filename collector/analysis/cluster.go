package analysis

import (
	"bytes"
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

// Fingerprint kinds. Gateway MACs, the connected Wi-Fi BSSID and the
// neighbouring Wi-Fi networks a laptop sees are strong links (one physical
// place); a public IP is weaker (CGNAT, offices, coffee shops).
const (
	FPGatewayMAC = "gateway_mac"
	FPBSSID      = "bssid"
	FPNearby     = "nearby_bssid"
	FPPublicIP   = "public_ip"
)

// Fingerprint is one network identity a report shows.
type Fingerprint struct {
	Kind, Value string
	Strong      bool
}

// Cluster is a set of devices linked by shared fingerprints.
type Cluster struct {
	ID      string             `json:"id"`
	Members map[string]*Member `json:"members"`
	// Links are kept as entries of their own after the record
	// (store.ClusterLinkKey), not in it: a new link writes a row, not the
	// whole farm's links again.
	Links    map[string]*ClusterLink `json:"-"`
	Farm     bool                    `json:"farm"`
	IPOnly   bool                    `json:"ip_only,omitempty"`
	Reason   string                  `json:"reason,omitempty"`
	AlertID  string                  `json:"alert_id,omitempty"`
	Created  time.Time               `json:"created"`
	Updated  time.Time               `json:"updated"`
	Observed *Observation            `json:"observed,omitempty"`
	// What judge found: hires, the places they claim (hires whose homes lie
	// within min_home_distance_km are one place) and those places' names.
	Hires      int      `json:"hires,omitempty"`
	Places     int      `json:"places,omitempty"`
	PlaceNames []string `json:"place_names,omitempty"`
	// Rev is a random stamp renewed at each save that changes the links:
	// the record's bytes change whenever its links do, which the
	// decoded-cluster cache needs.
	Rev uint64 `json:"rev"`

	// stored is the cluster as it is stored (the cache's read-only copy),
	// nil for one not yet saved under this id: save writes only the link
	// entries that differ from it.
	stored *Cluster
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

// fingerprints lists the identities of the network a report came from. A
// report taken at one of the company's offices (its Wi-Fi or router is in
// allow.office_*, and its public IP is the company's egress when one is
// configured) has none: an onboarding week at headquarters links nobody.
// Office networks never link anywhere else either.
func fingerprints(cfg *Config, sr *pb.StoredReport) []Fingerprint {
	n := sr.GetReport().GetNetwork()
	gw, bssid := normMAC(n.GetGatewayMac()), normMAC(n.GetWifi().GetBssid())
	officeGW, officeWifi := officeMAC(cfg.Allow.OfficeGatewayMACs, gw), officeMAC(cfg.Allow.OfficeBSSIDs, bssid)
	if (officeGW || officeWifi) && (len(cfg.egress) == 0 || cfg.companyEgress(sr.GetPublicIp())) {
		return nil
	}
	var out []Fingerprint
	if gw != "" && !officeGW {
		out = append(out, Fingerprint{FPGatewayMAC, gw, true})
	}
	if bssid != "" && !officeWifi {
		out = append(out, Fingerprint{FPBSSID, bssid, true})
	}
	out = append(out, nearbyFingerprints(cfg, n.GetWifi(), bssid)...)
	if ip := sr.GetPublicIp(); ip != "" && linkableIP(cfg, sr) {
		out = append(out, Fingerprint{FPPublicIP, ip, false})
	}
	return out
}

// nearbyFingerprints are the strongest neighbouring Wi-Fi networks a report
// saw: laptops on one shelf see the same ones even each behind its own
// travel router. Locally administered BSSIDs (phone hotspots, randomised
// addresses) move with their owners and say nothing about a place.
func nearbyFingerprints(cfg *Config, w *pb.Wifi, connected string) []Fingerprint {
	if cfg.Cluster.NearbyPerReport <= 0 || len(w.GetNearby()) == 0 {
		return nil
	}
	type seen struct {
		mac    string
		signal int32
	}
	var cand []seen
	for _, b := range w.GetNearby() {
		m := normMAC(b.GetBssid())
		if m == "" || m == connected || locallyAdministered(m) || officeMAC(cfg.Allow.OfficeBSSIDs, m) {
			continue
		}
		sig := b.GetSignalDbm()
		if sig == 0 {
			sig = -127 // unknown signal is the weakest, never the strongest
		}
		cand = append(cand, seen{m, sig})
	}
	sort.SliceStable(cand, func(i, j int) bool {
		if cand[i].signal != cand[j].signal {
			return cand[i].signal > cand[j].signal
		}
		return cand[i].mac < cand[j].mac
	})
	var out []Fingerprint
	for _, c := range cand {
		if len(out) == cfg.Cluster.NearbyPerReport {
			break
		}
		if len(out) > 0 && out[len(out)-1].Value == c.mac {
			continue
		}
		out = append(out, Fingerprint{FPNearby, c.mac, true})
	}
	return out
}

// locallyAdministered tells a randomised or hotspot MAC (bit 1 of the first
// octet) from one a vendor assigned.
func locallyAdministered(mac string) bool {
	if len(mac) < 2 {
		return false
	}
	v := func(c byte) byte {
		switch {
		case c >= '0' && c <= '9':
			return c - '0'
		case c >= 'a' && c <= 'f':
			return c - 'a' + 10
		}
		return 0
	}
	return v(mac[1])&0x2 != 0 // the second hex digit holds bit 1 of the first octet
}

func normMAC(m string) string {
	m = strings.ToLower(strings.TrimSpace(m))
	m = strings.ReplaceAll(m, "-", ":")
	// A zero byte is no part of a MAC address, and it separates the parts
	// of the fingerprint index's keys: such a value links nothing.
	if m == "" || m == "00:00:00:00:00:00" || m == "ff:ff:ff:ff:ff:ff" || strings.IndexByte(m, 0) >= 0 {
		return ""
	}
	return m
}

// normMACPrefix normalises a MAC address or prefix of whole octets from the
// config ("A4:83:E7", "a4-83-e7-12-34-56"); "" if it is neither.
func normMACPrefix(m string) string {
	m = normMAC(m)
	parts := strings.Split(m, ":")
	if m == "" || len(parts) > 6 {
		return ""
	}
	for _, p := range parts {
		if len(p) != 2 || strings.Trim(p, "0123456789abcdef") != "" {
			return ""
		}
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
	return !cfg.excludedASN(loc.GetAsn())
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
	fps := fingerprints(c.cfg, sr)
	min := uint32(c.cfg.Cluster.MinLinkReports)
	// Neighbouring networks link only in numbers (nearby_min_shared of them
	// shared with one device), so they are refreshed and looked up together.
	nearbyDue := false
	for _, fp := range fps {
		if fp.Kind == FPNearby && c.due(tx, fp, dev.GetId(), now) {
			nearbyDue = true
			break
		}
	}
	nearby := map[string][]Fingerprint{}
	for _, fp := range fps {
		// Once a device is linkable on a fingerprint, its entry is rewritten
		// (and the others looked up) only every fpRefresh: a farm member's
		// every report would otherwise write three keys and scan every other
		// member, O(n) per report.
		if (fp.Kind == FPNearby && !nearbyDue) || (fp.Kind != FPNearby && !c.due(tx, fp, dev.GetId(), now)) {
			continue
		}
		count, err := c.touch(tx, fp, dev.GetId(), now)
		if err != nil {
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
				if fp.Kind == FPNearby {
					nearby[other] = append(nearby[other], fp)
				} else {
					links = append(links, link{other, fp})
				}
			}
			return len(links)+len(nearby) < 10000
		})
	}
	for _, other := range slices.Sorted(maps.Keys(nearby)) {
		if shared := nearby[other]; len(shared) >= c.cfg.Cluster.NearbyMinShared {
			for _, fp := range shared {
				links = append(links, link{other, fp})
			}
		}
	}
	// The device's cluster is read shared, without a copy: most reports of a
	// member change nothing in it that is stored (a held link, the same
	// place), and copying a farm of a thousand for each of them was a tenth
	// of the collector's time. It is copied once something will be saved.
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
	for _, l := range links {
		// A link the cluster already holds needs nothing: no reload, merge,
		// save or re-judging per member, which made every report of a farm
		// of n devices cost O(n) cluster decodes. Whether it still holds is
		// read from the fingerprint index when links expire.
		if cl != nil && cl.Members[l.other] != nil {
			if key := l.fp.Kind + "|" + l.fp.Value; cl.Links[key].has(dev.GetId(), l.other) {
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
	// The cluster's place comes from reports that carry one of its shared
	// fingerprints: a member away on a hotspot does not move the farm.
	var observed *Observation
	if loc := sr.GetLocation(); loc.GetGeolocatable() && !c.cfg.companyEgress(sr.GetPublicIp()) && carriesLink(cl, fps) {
		o := &Observation{Lat: loc.GetLatitude(), Lon: loc.GetLongitude(), AccuracyKM: loc.GetAccuracyKm(),
			At: now, IP: sr.GetPublicIp(), Place: place(loc)}
		dirty = dirty || cl.Observed == nil || cl.Observed.IP != o.IP || cl.Observed.Place != o.Place ||
			cl.Observed.Lat != o.Lat || cl.Observed.Lon != o.Lon
		observed = o
	}
	if !dirty {
		// Same members, links and place: rewriting the whole cluster for
		// nothing made each report of a farm cost a write the size of the
		// farm. cl may be the shared copy: the caller reads it and copies it
		// before any change.
		return cl, false, nil
	}
	own()
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

// due tells whether the device's index entry for fp must be written (and
// others looked up): when it is new, not yet linkable, or older than
// fpRefresh.
func (c clusterer) due(tx *store.Tx, fp Fingerprint, device string, now time.Time) bool {
	v := tx.GetView(store.BucketFingerprints, fpKey(fp.Kind, fp.Value, device)) // read here, never kept
	if len(v) != 12 {
		return true
	}
	last := time.Unix(int64(binary.BigEndian.Uint64(v)), 0)
	return binary.BigEndian.Uint32(v[8:]) < uint32(c.cfg.Cluster.MinLinkReports) || now.Sub(last) >= fpRefresh || now.Before(last)
}

// touch writes the device's index entry for fp: the time and one more
// report; it returns the count.
func (c clusterer) touch(tx *store.Tx, fp Fingerprint, device string, now time.Time) (uint32, error) {
	key := fpKey(fp.Kind, fp.Value, device)
	count := uint32(0)
	if v := tx.GetView(store.BucketFingerprints, key); len(v) == 12 {
		count = binary.BigEndian.Uint32(v[8:])
	}
	if count < 1<<31 {
		count++
	}
	val := binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint64(nil, uint64(now.Unix())), count)
	return count, tx.Put(store.BucketFingerprints, key, val)
}

// seenAt is when the device last showed fp, per the index.
func seenAt(tx *store.Tx, kind, value, device string) (time.Time, bool) {
	v := tx.Get(store.BucketFingerprints, fpKey(kind, value, device))
	if len(v) != 12 {
		return time.Time{}, false
	}
	return time.Unix(int64(binary.BigEndian.Uint64(v)), 0), true
}

// carriesLink tells whether a report shows one of the cluster's shared
// fingerprints.
func carriesLink(cl *Cluster, fps []Fingerprint) bool {
	for _, fp := range fps {
		if l := cl.Links[fp.Kind+"|"+fp.Value]; l != nil && len(l.Devices) >= 2 {
			return true
		}
	}
	return false
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
	// A view, not a copy: a farm's record is tens of kilobytes, and the
	// cache copies it only when it keeps a newly decoded one.
	v := tx.GetView(store.BucketClusters, id)
	if v == nil {
		return nil, fmt.Errorf("cluster %s: %w", id, store.ErrNotFound)
	}
	return decodedClusters.shared(string(id), v, storedLinks(tx))
}

func (c clusterer) get(tx *store.Tx, id string) (*Cluster, error) {
	v := tx.GetView(store.BucketClusters, []byte(id)) // decode copies what it keeps
	if v == nil {
		return nil, fmt.Errorf("cluster %s: %w", id, store.ErrNotFound)
	}
	return decodedClusters.decode(id, v, storedLinks(tx))
}

// storedLinks reads a cluster's link entries from the store: what a cluster
// decoded afresh (not found in the cache) holds besides its record.
func storedLinks(tx *store.Tx) linkReader {
	return func(id string, members int) (map[string]*ClusterLink, error) {
		links := map[string]*ClusterLink{}
		var err error
		// A member shows a router, a Wi-Fi network and a public IP, and a
		// few neighbouring networks: read them in one page where it fits.
		rows := members * (3 + nearbyGuess)
		tx.ScanSized(store.BucketClusters, store.ClusterLinkPrefix(id), rows, func(k, v []byte) bool {
			_, kind, value, device, ok := store.ParseClusterLinkKey(k)
			if !ok {
				err = fmt.Errorf("cluster %s: link key %q", id, k)
				return false
			}
			at, strong, perr := store.ParseClusterLinkValue(v)
			if perr != nil {
				err = fmt.Errorf("cluster %s: %w", id, perr)
				return false
			}
			addLink(links, kind, value, device, at, strong)
			return true
		})
		return links, err
	}
}

// nearbyGuess is how many neighbouring networks a member's links are
// guessed to hold when its cluster's links are read: a guess that only
// sizes the first page read.
const nearbyGuess = 1

// save writes the cluster's record, and of its link entries those that
// differ from what is stored: a new link is a row or two, not the farm's
// every link again.
func (c clusterer) save(tx *store.Tx, cl *Cluster) error {
	var was map[string]*ClusterLink
	linksChanged := true
	if cl.stored != nil && cl.stored.ID == cl.ID {
		was, linksChanged = cl.stored.Links, false
	}
	for k, l := range cl.Links {
		old := was[k]
		for d, at := range l.Devices {
			if old != nil && old.Strong == l.Strong {
				if oat, ok := old.Devices[d]; ok && oat.Equal(at) {
					continue
				}
			}
			linksChanged = true
			if err := tx.Put(store.BucketClusters, store.ClusterLinkKey(cl.ID, l.Kind, l.Value, d), store.ClusterLinkValue(at, l.Strong)); err != nil {
				return err
			}
		}
	}
	for k, old := range was {
		l := cl.Links[k]
		for d := range old.Devices {
			if l != nil {
				if _, ok := l.Devices[d]; ok {
					continue
				}
			}
			linksChanged = true
			if err := tx.Delete(store.BucketClusters, store.ClusterLinkKey(cl.ID, old.Kind, old.Value, d)); err != nil {
				return err
			}
		}
	}
	// A new revision when the links changed, so that every collector's
	// cached copy misses; the same one when they did not, so that a save
	// that changes nothing leaves the same bytes, and the other collectors'
	// copies stay good.
	if linksChanged || cl.Rev == 0 {
		cl.Rev = store.NewRevision()
	}
	b, err := json.Marshal(cl)
	if err != nil {
		return err
	}
	if err := tx.Put(store.BucketClusters, []byte(cl.ID), b); err != nil {
		return err
	}
	cl.stored = decodedClusters.saved(cl.ID, b, cl)
	return nil
}

// drop deletes a cluster's record and every link entry after it.
func drop(tx *store.Tx, cl *Cluster) error {
	id := cl.ID
	var keys [][]byte
	tx.ScanSized(store.BucketClusters, store.ClusterLinkPrefix(id), len(cl.Members)*(3+nearbyGuess), func(k, _ []byte) bool {
		keys = append(keys, bytes.Clone(k))
		return true
	})
	for _, k := range keys {
		if err := tx.Delete(store.BucketClusters, k); err != nil {
			return err
		}
	}
	return tx.Delete(store.BucketClusters, []byte(id))
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
		if err := drop(tx, small); err != nil {
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
// link), or behind one public IP with enough hires to rule out chance
// (ip_only_min_hires places: roommates and a couple are one place each, and
// mobile carriers' shared addresses never link).
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
		cl.Farm, cl.IPOnly = true, !strong
	default:
		cl.Farm, cl.IPOnly = false, !strong
	}
	var names []string
	for _, g := range places {
		names = append(names, homes[g[0]].GetPlace())
	}
	cl.Hires, cl.Places, cl.PlaceNames = len(homes), len(places), names
	kinds := map[string]int{}
	for _, l := range cl.Links {
		kinds[l.Kind]++
	}
	var shared []string
	for _, k := range []string{FPGatewayMAC, FPBSSID, FPNearby, FPPublicIP} {
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

// PrefetchMembers reads the devices and hires of the clusters' members
// ahead of the ClusterViews that show them: on PostgreSQL a few queries
// for a whole list instead of two round trips per member.
func PrefetchMembers(tx *store.Tx, cls ...*Cluster) {
	var devices, hires []string
	seen := map[string]bool{}
	for _, cl := range cls {
		for id, m := range cl.Members {
			devices = append(devices, id)
			if !seen[m.HireID] {
				seen[m.HireID] = true
				hires = append(hires, m.HireID)
			}
		}
	}
	tx.PrefetchDevices(devices)
	tx.PrefetchHires(hires)
}

// ClusterView turns a stored cluster into the API's view (PrefetchMembers
// first, when showing several).
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
// The links of the clusters not cached are read in one walk of the bucket
// when they are many (the first list after a start): on PostgreSQL a page
// query per thousand links rather than a query per cluster.
func Clusters(tx *store.Tx) ([]*Cluster, error) {
	type miss struct {
		at      int
		id      string
		raw     []byte
		decoded *Cluster
		pending bool
	}
	var out []*Cluster
	var misses []miss
	if err := tx.ScanRecords(store.BucketClusters, func(k, v []byte) bool {
		if cl, ok := decodedClusters.c.Get(string(k), v); ok {
			out = append(out, cl)
		} else {
			misses = append(misses, miss{at: len(out), id: string(k), raw: bytes.Clone(v)})
			out = append(out, nil)
		}
		return true
	}); err != nil {
		return nil, err
	}
	links := storedLinks(tx)
	if len(misses) > clustersWalkFrom {
		all, err := allLinks(tx, len(misses))
		if err != nil {
			return nil, err
		}
		links = func(id string, _ int) (map[string]*ClusterLink, error) {
			if l := all[id]; l != nil {
				return l, nil
			}
			return map[string]*ClusterLink{}, nil
		}
	}
	for _, m := range misses {
		cl, err := decodedClusters.shared(m.id, m.raw, links)
		if err != nil {
			return nil, err
		}
		out[m.at] = cl
	}
	return out, nil
}

// clustersWalkFrom is how many clusters missing from the cache make
// Clusters read every link in one walk rather than each cluster's alone.
const clustersWalkFrom = 16

// allLinks reads every link of the clusters bucket, by cluster.
func allLinks(tx *store.Tx, clusters int) (map[string]map[string]*ClusterLink, error) {
	out := make(map[string]map[string]*ClusterLink, clusters)
	var err error
	tx.Scan(store.BucketClusters, nil, func(k, v []byte) bool {
		id, kind, value, device, ok := store.ParseClusterLinkKey(k)
		if !ok {
			return true // a record
		}
		at, strong, perr := store.ParseClusterLinkValue(v)
		if perr != nil {
			err = fmt.Errorf("cluster %s: %w", id, perr)
			return false
		}
		links := out[id]
		if links == nil {
			links = map[string]*ClusterLink{}
			out[id] = links
		}
		addLink(links, kind, value, device, at, strong)
		return true
	})
	return out, err
}

// addLink adds one link entry to links.
func addLink(links map[string]*ClusterLink, kind, value, device string, at time.Time, strong bool) {
	key := kind + "|" + value
	l := links[key]
	if l == nil {
		l = &ClusterLink{Kind: kind, Value: value, Strong: strong, Devices: map[string]time.Time{}}
		links[key] = l
	}
	l.Devices[device] = at
}
