package analysis

import (
	"fmt"
	"math"
	"time"

	"github.com/farmwatch/farmwatch/collector/store"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// A farm alert is scored by its own lines (the network its members share,
// the places their hires claim, how far those places are from where the
// farm is), never by its members' device scores: those are shown beside it.

// farmLines are a farm's own evidence, from the cluster as it stands.
func farmLines(cfg *Config, cl *Cluster, view *pb.Cluster) []*pb.Evidence {
	var out []*pb.Evidence
	for _, ev := range []*pb.Evidence{farmNetworkLine(cfg, cl), farmHomesLine(cfg, cl, view), farmFarLine(cfg, view)} {
		if ev != nil {
			out = append(out, ev)
		}
	}
	return out
}

// smallestFarm is a farm as small as the clustering's definition allows.
type smallestFarm struct {
	kind   string
	weight float64
}

// smallestFarms are the farm-line weights of the smallest farms judge
// accepts, with no observed place: two claimed places on one physical
// network, and ip_only_min_hires places behind one public IP.
func (c *Config) smallestFarms() []smallestFarm {
	return []smallestFarm{
		{"physical-network", c.Weights[RuleFarmNetwork] + c.Weights[RuleFarmHomes]*homesFactor(2)},
		{"public-IP-only", c.Weights[RuleFarmNetwork]*c.Cluster.IPOnlyFactor + c.Weights[RuleFarmHomes]*homesFactor(c.Cluster.IPOnlyMinHires)},
	}
}

// updateFarmAlert opens or refreshes the cluster's farm alert: its members,
// its own lines and score, and beside them each member's device score. dev
// is the device whose report changed the farm (its record is not stored yet).
func (e *Engine) updateFarmAlert(tx *store.Tx, cfg *Config, cl *Cluster, dev *pb.Device, now time.Time) error {
	var alert *pb.Alert
	var err error
	if cl.AlertID != "" {
		if alert, err = tx.Alert(cl.AlertID); err != nil {
			return err
		}
		if alert.GetStatus() == "resolved" {
			alert = nil
		}
	}
	if alert == nil {
		if !cl.Farm {
			return nil
		}
		id, err := tx.NextAlertID()
		if err != nil {
			return err
		}
		alert = &pb.Alert{Id: id, Kind: AlertKindFarm, Status: "open", CreatedAt: tsOf(now), ClusterId: cl.ID}
		cl.AlertID = id
	}
	view, err := ClusterView(tx, cl)
	if err != nil {
		return err
	}
	alert.MemberDevices, alert.MemberHires = nil, nil
	alert.MemberScores = map[string]float64{}
	seenHire := map[string]bool{}
	for _, m := range view.GetMembers() {
		alert.MemberDevices = append(alert.MemberDevices, m.GetDeviceId())
		if !seenHire[m.GetHireId()] {
			alert.MemberHires = append(alert.MemberHires, m.GetHireId())
			seenHire[m.GetHireId()] = true
		}
		if m.GetDeviceId() == dev.GetId() {
			alert.MemberScores[m.GetDeviceId()] = dev.GetScore()
		} else if d, err := tx.Device(m.GetDeviceId()); err == nil {
			alert.MemberScores[m.GetDeviceId()] = d.GetScore()
		}
	}
	var lines []*pb.Evidence
	if cl.Farm {
		lines = farmLines(cfg, cl, view)
	}
	alert.Evidence = mergeFarmLines(alert.GetEvidence(), lines, now)
	where := "one network"
	if cl.Observed != nil {
		where = "one network in " + cl.Observed.Place
	}
	alert.Summary = fmt.Sprintf("Laptop farm %s: %d devices of %d hires on %s", cl.ID, len(alert.MemberDevices), len(alert.MemberHires), where)
	if !cl.Farm {
		alert.Summary = fmt.Sprintf("Former laptop farm %s: now %d devices of %d hires, no longer a farm", cl.ID, len(alert.MemberDevices), len(alert.MemberHires))
	}
	setFarmScore(cfg, alert, now)
	return tx.PutAlert(cl.ID, alert)
}

// mergeFarmLines makes a farm alert's lines from the ones it had and the
// ones the farm shows now: a line keeps when it was first seen and its peak;
// a line the farm no longer shows stays, fading from when it was last seen.
func mergeFarmLines(old, now []*pb.Evidence, at time.Time) []*pb.Evidence {
	prev := map[string]*pb.Evidence{}
	for _, e := range old {
		prev[e.GetRule()] = e
	}
	var out []*pb.Evidence
	for _, e := range now {
		spec, _ := LookupRule(e.GetRule())
		e.ObservedAt, e.FirstSeen, e.PeakWeight, e.FreshWeight = tsOf(at), tsOf(at), e.GetWeight(), e.GetWeight()
		e.Class, e.Decay = string(spec.Class), spec.Decay.String()
		if p := prev[e.GetRule()]; p != nil {
			e.FirstSeen, e.PeakWeight = p.GetFirstSeen(), math.Max(p.GetPeakWeight(), e.GetWeight())
			delete(prev, e.GetRule())
		}
		out = append(out, e)
	}
	for _, e := range old {
		if p := prev[e.GetRule()]; p != nil {
			out = append(out, p)
		}
	}
	return out
}

// setFarmScore scores a farm alert from its own lines, each faded by the
// time since the farm last showed it.
func setFarmScore(cfg *Config, alert *pb.Alert, now time.Time) {
	for _, e := range alert.GetEvidence() {
		if spec, ok := LookupRule(e.GetRule()); ok {
			e.Weight = e.GetFreshWeight() * spec.decay(cfg).Factor(now.Sub(e.GetObservedAt().AsTime()))
		}
	}
	score := Score(cfg.Prior, alert.GetEvidence())
	alert.Score = score
	if score > alert.GetPeakScore() {
		alert.PeakScore, alert.PeakAt = score, tsOf(now)
	}
	alert.UpdatedAt = tsOf(now)
	sortLines(alert.Evidence)
}

// FarmMemberScores is each member device's own score now, shown beside a
// farm alert's (which its lines make, not its members). The alert record
// keeps them as of the farm's last change; a reviewer's view reads them
// afresh.
func FarmMemberScores(tx *store.Tx, a *pb.Alert) map[string]float64 {
	out := make(map[string]float64, len(a.GetMemberDevices()))
	for _, id := range a.GetMemberDevices() {
		if d, err := tx.Device(id); err == nil {
			out[id] = d.GetScore()
		}
	}
	return out
}

// expireClusters lets links expire in every cluster, splits or dissolves
// what no longer hangs together, re-judges what changed, and refreshes the
// farm alerts of clusters that are gone or no longer farms (their lines
// fade; the alert stays in the queue until a reviewer resolves it).
func (e *Engine) expireClusters(tx *store.Tx, cfg *Config, now time.Time) error {
	cls, err := Clusters(tx)
	if err != nil {
		return err
	}
	for _, cl := range cls {
		if err := e.expireCluster(tx, cfg, cl, now); err != nil {
			return err
		}
	}
	return nil
}

// expireCluster lets the links of one cluster expire, as expireClusters does.
func (e *Engine) expireCluster(tx *store.Tx, cfg *Config, cl *Cluster, now time.Time) error {
	c := clusterer{cfg: cfg}
	kept, left, changed := c.expire(tx, cl, now)
	if !changed {
		return nil
	}
	for _, id := range left {
		if err := tx.Delete(store.BucketClusterOf, []byte(id)); err != nil {
			return err
		}
		if d, err := tx.Device(id); err == nil && d.GetClusterId() == cl.ID {
			d.ClusterId = ""
			if err := tx.PutDevice(d); err != nil {
				return err
			}
		}
	}
	if len(kept) == 0 || kept[0].ID != cl.ID {
		if err := drop(tx, cl); err != nil {
			return err
		}
	}
	for i, part := range kept {
		if i > 0 {
			id, err := tx.NextID(store.BucketClusters, "C")
			if err != nil {
				return err
			}
			part.ID, part.AlertID = id, ""
			for m := range part.Members {
				if err := tx.Put(store.BucketClusterOf, []byte(m), []byte(id)); err != nil {
					return err
				}
				if d, err := tx.Device(m); err == nil {
					d.ClusterId = id
					if err := tx.PutDevice(d); err != nil {
						return err
					}
				}
			}
		}
		if err := c.judge(tx, part); err != nil {
			return err
		}
		part.Updated = now
		if err := c.save(tx, part); err != nil {
			return err
		}
	}
	if cl.AlertID == "" {
		return nil
	}
	// The farm alert follows the part that kept the id, or fades alone.
	if len(kept) > 0 && kept[0].ID == cl.ID {
		return e.updateFarmAlert(tx, cfg, kept[0], &pb.Device{}, now)
	}
	return fadeFarmAlert(tx, cfg, cl, now)
}

// fadeFarmAlert refreshes the alert of a farm that dissolved: its lines
// fade from when they were last seen.
func fadeFarmAlert(tx *store.Tx, cfg *Config, cl *Cluster, now time.Time) error {
	alert, err := tx.Alert(cl.AlertID)
	if err != nil || alert.GetStatus() == "resolved" {
		return err
	}
	alert.Summary = fmt.Sprintf("Former laptop farm %s: its devices no longer share a network", cl.ID)
	setFarmScore(cfg, alert, now)
	return tx.PutAlert(cl.ID, alert)
}
