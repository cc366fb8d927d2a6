package analysis

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/farmwatch/farmwatch/collector/store"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// Alert kinds.
const (
	AlertKindDevice = "device"
	AlertKindFarm   = "farm"
)

// Engine evaluates the rules for each newly stored report.
type Engine struct {
	mu     sync.RWMutex
	cfg    Config
	states *stateCache
}

// NewEngine makes an engine with a config.
func NewEngine(cfg Config) *Engine { return &Engine{cfg: cfg, states: newStateCache(50000)} }

// Config returns the engine's current config.
func (e *Engine) Config() Config {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.cfg
}

// SetConfig replaces the config for reports from now on.
func (e *Engine) SetConfig(cfg Config) {
	e.mu.Lock()
	e.cfg = cfg
	e.mu.Unlock()
}

// Score turns evidence into a probability-like score: sigmoid(prior + sum).
func Score(prior float64, ev []*pb.Evidence) float64 {
	z := prior
	for _, e := range ev {
		z += e.GetWeight()
	}
	return 1 / (1 + math.Exp(-z))
}

func tsOf(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

// Evaluate runs the per-report rules.
func Evaluate(cfg *Config, hire *pb.Hire, state *DeviceState, sr *pb.StoredReport) []*pb.Evidence {
	in := Input{Hire: hire, Report: sr, State: state, Config: cfg, Now: sr.GetReceivedAt().AsTime()}
	var out []*pb.Evidence
	for _, r := range reportRules {
		if ev := r(in); ev != nil {
			ev.ObservedAt = sr.GetReceivedAt()
			out = append(out, ev)
		}
	}
	return out
}

// Analyze is a store.AnalyzeFunc: it folds one report into the device's
// state, the fingerprint index and the clusters, scores the device and opens
// or updates its alerts, all in the ingest transaction.
func (e *Engine) Analyze(tx *store.Tx, dev *pb.Device, sr *pb.StoredReport) error {
	cfg := e.Config()
	hire, err := tx.HireShared(dev.GetHireId())
	if err != nil {
		return err
	}
	state, err := e.states.load(tx, dev.GetId())
	if err != nil {
		return fmt.Errorf("device state %s: %w", dev.GetId(), err)
	}
	now := sr.GetReceivedAt().AsTime()
	late := dev.GetLastSeq() > sr.GetReport().GetSeq()

	ev := Evaluate(&cfg, hire, state, sr)
	in := Input{Hire: hire, Report: sr, State: state, Config: &cfg, Now: now}
	state.observe(&cfg, hire, sr, in.located())
	for _, x := range ev {
		if x.GetRule() == RuleImpossibleTravel {
			if state.Sticky == nil {
				state.Sticky = map[string]StickyEvidence{}
			}
			state.Sticky[x.GetRule()] = StickyEvidence{Rule: x.GetRule(), Weight: x.GetWeight(), Explanation: x.GetExplanation(),
				Facts: x.GetFacts(), At: now, Until: now.Add(time.Duration(cfg.Evidence.StickyHours * float64(time.Hour)))}
		}
	}

	cl, changed, err := clusterer{cfg: &cfg}.observe(tx, dev, sr, now)
	if err != nil {
		return fmt.Errorf("clusters: %w", err)
	}
	if cl != nil {
		dev.ClusterId = cl.ID
		if cl.Farm {
			ev = append(ev, colocatedEvidence(tx, &cfg, cl, dev, now))
		}
	}
	ev = withSticky(ev, state, now)
	if !late { // an older report fills history but does not overrule the current state
		state.Current = currentOf(ev, now)
	}
	if err := e.states.save(tx, dev.GetId(), state); err != nil {
		return err
	}
	if late {
		return nil
	}
	dev.Score = Score(cfg.Prior, ev)
	if err := e.updateDeviceAlert(tx, &cfg, hire, dev, state, ev, now); err != nil {
		return err
	}
	if cl != nil && cl.Farm && (changed || cl.AlertID == "") {
		if cl.readOnly {
			cl = cl.clone() // the shared copy of the cache: changed below
		}
		if err := e.updateFarmAlert(tx, &cfg, cl, dev, now); err != nil {
			return err
		}
		// Past refreshMembersMax members, the others pick the change up at
		// their next report: rewriting all n of them on each of the n joins
		// of a forming farm is O(n²) work inside the ingest transaction.
		if len(cl.Members) <= refreshMembersMax {
			if err := e.refreshMembers(tx, &cfg, cl, dev.GetId(), now); err != nil {
				return err
			}
		}
		return clusterer{cfg: &cfg}.save(tx, cl)
	}
	if cl != nil && cl.Farm && cl.AlertID != "" {
		return e.refreshFarmScore(tx, cl, dev, now)
	}
	return nil
}

func putState(tx *store.Tx, id string, s *DeviceState) error {
	b, err := s.encode()
	if err != nil {
		return err
	}
	return tx.PutDeviceState(id, b)
}

func withSticky(ev []*pb.Evidence, s *DeviceState, now time.Time) []*pb.Evidence {
	have := map[string]bool{}
	for _, e := range ev {
		have[e.GetRule()] = true
	}
	keys := slices.Sorted(maps.Keys(s.Sticky))
	for _, k := range keys {
		st := s.Sticky[k]
		if have[st.Rule] || now.After(st.Until) {
			continue
		}
		ev = append(ev, &pb.Evidence{Rule: st.Rule, Weight: st.Weight, Explanation: st.Explanation + " (seen " +
			st.At.UTC().Format(time.RFC3339) + ")", Facts: st.Facts, ObservedAt: tsOf(st.At)})
	}
	return ev
}

// colocatedNames is how many other members a device's colocation evidence
// names; the cluster view lists them all.
const colocatedNames = 25

// firstIDs returns the n smallest member ids other than except, in order,
// without sorting every member.
func firstIDs(members map[string]*Member, except string, n int) []string {
	out := make([]string, 0, n+1)
	for id := range members {
		if id == except || (len(out) == n && id >= out[n-1]) {
			continue
		}
		i, _ := slices.BinarySearch(out, id)
		out = slices.Insert(out, i, id)
		if len(out) > n {
			out = out[:n]
		}
	}
	return out
}

func colocatedEvidence(tx *store.Tx, cfg *Config, cl *Cluster, dev *pb.Device, now time.Time) *pb.Evidence {
	var others []string
	// Every member's evidence names the others: unbounded, a farm of n
	// devices cost n hire reads and a sort of n ids per report.
	ids := cl.firstMembers(dev.GetId())
	for _, id := range ids {
		m := cl.Members[id]
		name := m.HireID
		if h, err := tx.HireShared(m.HireID); err == nil {
			name = fmt.Sprintf("%s (claims %s)", h.GetName(), h.GetHome().GetPlace())
		}
		others = append(others, fmt.Sprintf("%s %s", id, name))
	}
	if more := len(cl.Members) - 1 - len(ids); more > 0 {
		others = append(others, fmt.Sprintf("and %d more (farmwatch clusters show %s)", more, cl.ID))
	}
	w := cfg.Weights[RuleColocated]
	if cl.IPOnly {
		w *= cfg.Cluster.IPOnlyFactor
	}
	where := ""
	if cl.Observed != nil {
		where = " in " + cl.Observed.Place
	}
	return &pb.Evidence{Rule: RuleColocated, Weight: w, ObservedAt: tsOf(now),
		Explanation: fmt.Sprintf("Laptop farm %s%s: %s. Shares the network with %s.", cl.ID, where, cl.Reason, strings.Join(others, "; ")),
		Facts:       map[string]string{"cluster": cl.ID, "members": fmt.Sprint(len(cl.Members))}}
}

// updateDeviceAlert keeps one open alert per device: opened when the score
// reaches the alert threshold with evidence a reviewer has not judged yet,
// updated as evidence changes, never silently closed.
func (e *Engine) updateDeviceAlert(tx *store.Tx, cfg *Config, hire *pb.Hire, dev *pb.Device, state *DeviceState, ev []*pb.Evidence, now time.Time) error {
	alert, err := tx.OpenAlert(dev.GetId(), AlertKindDevice)
	if err != nil {
		return err
	}
	score := dev.GetScore()
	if alert == nil {
		if score < cfg.AlertThreshold || !hasUnreviewed(ev, state.Reviewed) {
			dev.OpenAlerts = 0
			return nil
		}
		id, err := tx.NextAlertID()
		if err != nil {
			return err
		}
		alert = &pb.Alert{Id: id, Kind: AlertKindDevice, DeviceId: dev.GetId(), HireId: hire.GetId(), Status: "open", CreatedAt: tsOf(now)}
	}
	dev.OpenAlerts = 1
	if alert.GetCreatedAt() != nil && alert.GetScore() == score && alert.GetClusterId() == dev.GetClusterId() &&
		sameEvidence(alert.GetEvidence(), ev) {
		return nil // nothing a reviewer would see changed: no rewrite per report
	}
	alert.Score = score
	alert.Evidence = ev
	alert.ClusterId = dev.GetClusterId()
	alert.UpdatedAt = tsOf(now)
	alert.Summary = Summary(hire, dev, ev, score)
	return tx.PutAlert(dev.GetId(), alert)
}

func hasUnreviewed(ev []*pb.Evidence, reviewed []string) bool {
	for _, e := range ev {
		found := false
		for _, r := range reviewed {
			found = found || r == e.GetRule()
		}
		if !found {
			return true
		}
	}
	return false
}

// updateFarmAlert opens or grows the cluster's farm alert, naming every member.
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
	var lines []string
	seenHire := map[string]bool{}
	for _, m := range view.GetMembers() {
		alert.MemberDevices = append(alert.MemberDevices, m.GetDeviceId())
		if !seenHire[m.GetHireId()] {
			alert.MemberHires = append(alert.MemberHires, m.GetHireId())
			seenHire[m.GetHireId()] = true
		}
		dist := ""
		if m.GetDistanceKm() >= 0 {
			dist = fmt.Sprintf(", %.0f km from the observed place", m.GetDistanceKm())
		}
		lines = append(lines, fmt.Sprintf("%s %s (%s) claims %s%s", m.GetDeviceId(), m.GetHireName(), m.GetHireId(), m.GetClaimedHome(), dist))
	}
	w := cfg.Weights[RuleColocated]
	if cl.IPOnly {
		w *= cfg.Cluster.IPOnlyFactor
	}
	facts := map[string]string{"cluster": cl.ID}
	for _, f := range view.GetFingerprints() {
		facts[f.GetKind()+"."+f.GetValue()] = fmt.Sprintf("%s link, %d devices", f.GetStrength(), len(f.GetDeviceIds()))
	}
	where := "one network"
	if cl.Observed != nil {
		where = "one network in " + cl.Observed.Place
	}
	alert.Evidence = []*pb.Evidence{{Rule: RuleColocated, Weight: w, ObservedAt: tsOf(now), Facts: facts,
		Explanation: fmt.Sprintf("%s. Members: %s.", cl.Reason, strings.Join(lines, "; "))}}
	alert.Summary = fmt.Sprintf("Laptop farm %s: %d devices of %d hires on %s", cl.ID, len(alert.MemberDevices), len(alert.MemberHires), where)
	alert.UpdatedAt = tsOf(now)
	alert.Score = math.Max(Score(cfg.Prior, alert.Evidence), dev.GetScore())
	return tx.PutAlert(cl.ID, alert)
}

// refreshMembersMax bounds the farms whose members are all refreshed when
// the farm changes.
const refreshMembersMax = 50

// refreshMembers gives every other member of a farm cluster its
// net.colocated evidence now, rather than at its next report.
func (e *Engine) refreshMembers(tx *store.Tx, cfg *Config, cl *Cluster, except string, now time.Time) error {
	for id, m := range cl.Members {
		if id == except {
			continue
		}
		dev, err := tx.Device(id)
		if err != nil {
			return err
		}
		hire, err := tx.HireShared(m.HireID)
		if err != nil {
			return err
		}
		state, err := loadState(tx.DeviceState(id))
		if err != nil {
			return err
		}
		var ev []*pb.Evidence
		for _, x := range state.Current {
			if x.Rule != RuleColocated {
				ev = append(ev, &pb.Evidence{Rule: x.Rule, Weight: x.Weight, Explanation: x.Explanation, Facts: x.Facts, ObservedAt: tsOf(x.At)})
			}
		}
		col := colocatedEvidence(tx, cfg, cl, dev, now)
		ev = append(ev, col)
		state.Current = append(state.Current[:0:0], currentOf(ev, now)...)
		if err := putState(tx, id, state); err != nil {
			return err
		}
		dev.ClusterId = cl.ID
		dev.Score = Score(cfg.Prior, ev)
		if err := e.updateDeviceAlert(tx, cfg, hire, dev, state, ev, now); err != nil {
			return err
		}
		if err := tx.PutDevice(dev); err != nil {
			return err
		}
	}
	return nil
}

func currentOf(ev []*pb.Evidence, now time.Time) []StickyEvidence {
	out := make([]StickyEvidence, 0, len(ev))
	for _, x := range ev {
		at := now
		if x.GetObservedAt() != nil {
			at = x.GetObservedAt().AsTime()
		}
		out = append(out, StickyEvidence{Rule: x.GetRule(), Weight: x.GetWeight(), Explanation: x.GetExplanation(), Facts: x.GetFacts(), At: at})
	}
	return out
}

func (e *Engine) refreshFarmScore(tx *store.Tx, cl *Cluster, dev *pb.Device, now time.Time) error {
	// Read shared: a farm member's every report comes here, and the farm's
	// alert grows with the farm; it is copied only when it changes.
	shared, err := tx.AlertShared(cl.AlertID)
	if err != nil || shared.GetStatus() == "resolved" {
		return err
	}
	if dev.GetScore() > shared.GetScore() {
		alert := proto.Clone(shared).(*pb.Alert)
		alert.Score = dev.GetScore()
		alert.UpdatedAt = tsOf(now)
		return tx.PutAlert(cl.ID, alert)
	}
	return nil
}

// Summary is the one line a reviewer reads first.
func Summary(hire *pb.Hire, dev *pb.Device, ev []*pb.Evidence, score float64) string {
	if len(ev) == 0 {
		return fmt.Sprintf("%s (%s): no current evidence", hire.GetName(), dev.GetHostname())
	}
	sorted := append([]*pb.Evidence(nil), ev...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].GetWeight() > sorted[j].GetWeight() })
	rules := make([]string, 0, len(sorted))
	for _, e := range sorted {
		rules = append(rules, e.GetRule())
	}
	return fmt.Sprintf("%s (%s): %s", hire.GetName(), dev.GetHostname(), strings.Join(rules, ", "))
}

// Sweep marks devices whose agent stopped reporting: agent.silent evidence is
// added to their alert until the next report arrives. It reads device
// records, never reports.
func (e *Engine) Sweep(tx *store.Tx, now time.Time) (int, error) {
	cfg := e.Config()
	limit := time.Duration(cfg.Silence.Intervals * float64(cfg.Silence.ReportInterval))
	if limit <= 0 {
		return 0, nil
	}
	devs, err := tx.Devices("")
	if err != nil {
		return 0, err
	}
	n := 0
	for _, dev := range devs {
		last := dev.GetLastSeen().AsTime()
		if dev.GetLastSeen() == nil {
			last = dev.GetEnrolledAt().AsTime()
		}
		if now.Sub(last) < limit {
			continue
		}
		state, err := loadState(tx.DeviceState(dev.GetId()))
		if err != nil {
			return n, err
		}
		if state.Silent {
			continue
		}
		state.Silent = true
		if state.Sticky == nil {
			state.Sticky = map[string]StickyEvidence{}
		}
		state.Sticky[RuleSilent] = StickyEvidence{Rule: RuleSilent, Weight: cfg.Weights[RuleSilent], At: now,
			Until: now.Add(100 * 365 * 24 * time.Hour),
			Explanation: fmt.Sprintf("The agent has not reported since %s (%s, more than %.0f report intervals).",
				last.UTC().Format(time.RFC3339), now.Sub(last).Round(time.Minute), cfg.Silence.Intervals)}
		if err := putState(tx, dev.GetId(), state); err != nil {
			return n, err
		}
		hire, err := tx.HireShared(dev.GetHireId())
		if err != nil {
			return n, err
		}
		var ev []*pb.Evidence
		if a, err := tx.OpenAlert(dev.GetId(), AlertKindDevice); err == nil && a != nil {
			for _, x := range a.GetEvidence() {
				if x.GetRule() != RuleSilent {
					ev = append(ev, x)
				}
			}
		}
		ev = withSticky(ev, state, now)
		dev.Score = Score(cfg.Prior, ev)
		if err := e.updateDeviceAlert(tx, &cfg, hire, dev, state, ev, now); err != nil {
			return n, err
		}
		if err := tx.PutDevice(dev); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// Reviewed records that a reviewer judged these rules on a device, so they
// alone do not reopen an alert.
func Reviewed(tx *store.Tx, deviceID string, rules []string) error {
	state, err := loadState(tx.DeviceState(deviceID))
	if err != nil {
		return err
	}
	for _, r := range rules {
		found := false
		for _, x := range state.Reviewed {
			found = found || x == r
		}
		if !found {
			state.Reviewed = append(state.Reviewed, r)
		}
	}
	// Sticky silence is judged too: drop it so a resolved alert stays resolved.
	delete(state.Sticky, RuleSilent)
	return putState(tx, deviceID, state)
}

// CurrentEvidence is the evidence behind a device's current score.
func CurrentEvidence(tx *store.Tx, deviceID string) []*pb.Evidence {
	state, err := loadState(tx.DeviceState(deviceID))
	if err != nil {
		return nil
	}
	var out []*pb.Evidence
	for _, x := range state.Current {
		out = append(out, &pb.Evidence{Rule: x.Rule, Weight: x.Weight, Explanation: x.Explanation, Facts: x.Facts, ObservedAt: tsOf(x.At)})
	}
	return out
}

// sameEvidence compares what a reviewer reads: rules, weights and sentences.
func sameEvidence(a, b []*pb.Evidence) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].GetRule() != b[i].GetRule() || a[i].GetWeight() != b[i].GetWeight() || a[i].GetExplanation() != b[i].GetExplanation() {
			return false
		}
	}
	return true
}
