package analysis

import (
	"encoding/binary"
	"fmt"
	"maps"
	"math"
	"slices"
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

	expireMu   sync.Mutex
	lastExpiry time.Time
	pruneFrom  []byte // where the next pass over the fingerprint index starts
}

// NewEngine makes an engine with a config.
func NewEngine(cfg Config) *Engine { return &Engine{cfg: cfg, states: newStateCache(50000)} }

// Config returns the engine's current config.
func (e *Engine) Config() Config {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.cfg
}

// SetConfig replaces the config for reports from now on; the report
// interval the collector runs with is kept.
func (e *Engine) SetConfig(cfg Config) {
	e.mu.Lock()
	if cfg.ReportInterval == 0 {
		cfg.ReportInterval = e.cfg.ReportInterval
	}
	e.cfg = cfg
	e.mu.Unlock()
}

// Score turns evidence into a probability-like score: sigmoid(prior + sum).
func Score(prior float64, ev []*pb.Evidence) float64 {
	z := prior
	for _, e := range ev {
		z += e.GetWeight()
	}
	return sigmoid(z)
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
	for _, r := range reportRuleList() {
		if ev := r.Eval(in); ev != nil {
			ev.ObservedAt = sr.GetReceivedAt()
			out = append(out, ev)
		}
	}
	return out
}

// Analyze is a store.AnalyzeFunc: it folds one report into the device's
// state, its evidence memory, the fingerprint index and the clusters, scores
// the device and opens or updates its alerts, all in the ingest transaction.
// Every report is analysed, whatever its sequence number: a report that
// waited in a spool fills the hours it describes, and its evidence is
// remembered as seen when it arrived (the collector's clock, never the
// laptop's).
func (e *Engine) Analyze(tx *store.Tx, dev *pb.Device, sr *pb.StoredReport) error {
	cfg, hire, state, err := e.open(tx, dev)
	if err != nil {
		return err
	}
	now := sr.GetReceivedAt().AsTime()
	state.advance(now, cfg.silenceAfter())
	if state.Silent {
		state.Silent = false
		silenceEnded(state.Memory[RuleSilent], now)
	}

	fired := Evaluate(&cfg, hire, state, sr)
	in := Input{Hire: hire, Report: sr, State: state, Config: &cfg, Now: now}
	state.observe(&cfg, hire, sr, in.located())

	cl, changed, err := clusterer{cfg: &cfg}.observe(tx, dev, sr, now)
	if err != nil {
		return fmt.Errorf("clusters: %w", err)
	}
	if cl != nil {
		dev.ClusterId = cl.ID
		if cl.Farm {
			fired = append(fired, colocatedEvidence(tx, &cfg, cl, dev, now))
		}
	}
	for _, ev := range fired {
		state.remember(&cfg, ev, now, state.Clock)
	}
	state.forget(&cfg, state.Clock)
	v := state.view(&cfg, now)
	if err := e.states.save(tx, dev.GetId(), state); err != nil {
		return err
	}
	dev.Score = scoreOf(cfg.Prior, v)
	if err := e.updateDeviceAlert(tx, &cfg, hire, dev, state, v, now); err != nil {
		return err
	}
	if cl == nil || !cl.Farm {
		return nil
	}
	if changed || cl.AlertID == "" {
		if cl.readOnly {
			cl = cl.clone() // the shared copy of the cache: changed below
		}
		// Past refreshMembersMax members, the others pick the change up at
		// their next report: rewriting all n of them on each of the n joins
		// of a forming farm is O(n²) work inside the ingest transaction.
		if len(cl.Members) <= refreshMembersMax {
			if err := e.refreshMembers(tx, &cfg, cl, dev.GetId(), now); err != nil {
				return err
			}
		}
		if err := e.updateFarmAlert(tx, &cfg, cl, dev, now); err != nil {
			return err
		}
		return clusterer{cfg: &cfg}.save(tx, cl)
	}
	// The farm is as it was: its alert keeps its lines, and its members'
	// device scores are read when a reviewer looks (FarmMemberScores), not
	// written into a farm of n on each of its members' reports.
	return nil
}

// open reads what analysing a device needs: the config in effect, its hire
// (shared: read only) and its state (the caller's to change and save).
func (e *Engine) open(tx *store.Tx, dev *pb.Device) (Config, *pb.Hire, *DeviceState, error) {
	cfg := e.Config()
	hire, err := tx.HireShared(dev.GetHireId())
	if err != nil {
		return cfg, nil, nil, err
	}
	state, err := e.states.load(tx, dev.GetId())
	if err != nil {
		return cfg, nil, nil, fmt.Errorf("device state %s: %w", dev.GetId(), err)
	}
	return cfg, hire, state, nil
}

// RecordEvent is a store.EventFunc: what the collector saw of a device's
// delivery (a reset spool, a refused sequence jump, a cloned identity, a
// spent byte budget) becomes remembered evidence like any rule's.
func (e *Engine) RecordEvent(tx *store.Tx, dev *pb.Device, ev store.IngestEvent) error {
	rule, ok := ingestRules[ev.Kind]
	if !ok {
		return fmt.Errorf("ingest event %q: no rule reads it", ev.Kind)
	}
	cfg, hire, state, err := e.open(tx, dev)
	if err != nil {
		return err
	}
	state.remember(&cfg, &pb.Evidence{Rule: rule, Weight: cfg.Weights[rule], Explanation: ev.Text, Facts: ev.Facts},
		ev.At, state.clockAt(ev.At, cfg.silenceAfter()))
	v := state.view(&cfg, ev.At)
	if err := e.states.save(tx, dev.GetId(), state); err != nil {
		return err
	}
	dev.Score = scoreOf(cfg.Prior, v)
	return e.updateDeviceAlert(tx, &cfg, hire, dev, state, v, ev.At)
}

func putState(tx *store.Tx, id string, s *DeviceState) error {
	b, err := s.encode()
	if err != nil {
		return err
	}
	return tx.PutDeviceState(id, b)
}

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

// updateDeviceAlert keeps one open alert per device: opened when the score
// reaches the alert threshold with evidence a reviewer has not judged yet,
// updated as evidence changes, never closed but by a reviewer. Its peak
// score keeps a device that once reached review in the reviewers' queue.
func (e *Engine) updateDeviceAlert(tx *store.Tx, cfg *Config, hire *pb.Hire, dev *pb.Device, state *DeviceState, v []line, now time.Time) error {
	shared, err := tx.OpenAlertShared(dev.GetId(), AlertKindDevice)
	if err != nil {
		return err
	}
	score := dev.GetScore()
	if shared != nil && math.Abs(shared.GetScore()-score) < scoreStep && score <= shared.GetPeakScore() &&
		shared.GetClusterId() == dev.GetClusterId() && shows(shared.GetEvidence(), v) {
		dev.OpenAlerts = 1
		return nil // nothing a reviewer would see changed: no copy, no rewrite per report
	}
	var alert *pb.Alert
	if shared != nil {
		alert = cloneAlert(shared)
	}
	if alert == nil {
		if score < cfg.AlertThreshold || !hasUnreviewed(v, state.Reviewed) {
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
	lines := evidence(v)
	alert.Score = score
	if score > alert.GetPeakScore() {
		alert.PeakScore, alert.PeakAt = score, tsOf(now)
	}
	alert.Evidence = lines
	alert.ClusterId = dev.GetClusterId()
	alert.UpdatedAt = tsOf(now)
	alert.Summary = Summary(hire, dev, lines, score)
	return tx.PutAlert(dev.GetId(), alert)
}

// scoreStep is the smallest change of a score worth rewriting an alert for.
const scoreStep = 0.0005

// hasUnreviewed tells whether a line that adds to the score now is one no
// reviewer has judged on this device.
func hasUnreviewed(v []line, reviewed []string) bool {
	for _, l := range v {
		if l.weight > 0 && !slices.Contains(reviewed, l.m.Rule) {
			return true
		}
	}
	return false
}

// refreshMembersMax bounds the farms whose members are all refreshed when
// the farm changes.
const refreshMembersMax = 50

// refreshMembers gives every other member of a farm cluster its
// net.colocated evidence now, rather than at its next report.
func (e *Engine) refreshMembers(tx *store.Tx, cfg *Config, cl *Cluster, except string, now time.Time) error {
	for _, id := range slices.Sorted(maps.Keys(cl.Members)) {
		if id == except {
			continue
		}
		m := cl.Members[id]
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
		state.remember(cfg, colocatedEvidence(tx, cfg, cl, dev, now), now, state.clockAt(now, cfg.silenceAfter()))
		v := state.view(cfg, now)
		if err := putState(tx, id, state); err != nil {
			return err
		}
		dev.ClusterId = cl.ID
		dev.Score = scoreOf(cfg.Prior, v)
		if err := e.updateDeviceAlert(tx, cfg, hire, dev, state, v, now); err != nil {
			return err
		}
		if err := tx.PutDevice(dev); err != nil {
			return err
		}
	}
	return nil
}

// Summary is the one line a reviewer reads first.
func Summary(hire *pb.Hire, dev *pb.Device, ev []*pb.Evidence, score float64) string {
	now := live(ev)
	if len(now) == 0 {
		if len(ev) > 0 {
			return fmt.Sprintf("%s (%s): no current evidence; earlier %s", hire.GetName(), dev.GetHostname(), ruleList(ev))
		}
		return fmt.Sprintf("%s (%s): no current evidence", hire.GetName(), dev.GetHostname())
	}
	return fmt.Sprintf("%s (%s): %s", hire.GetName(), dev.GetHostname(), ruleList(now))
}

func ruleList(ev []*pb.Evidence) string {
	sorted := append([]*pb.Evidence(nil), ev...)
	sortLines(sorted)
	rules := make([]string, 0, len(sorted))
	for _, e := range sorted {
		rules = append(rules, e.GetRule())
	}
	return strings.Join(rules, ", ")
}

// Sweep marks devices whose agent stopped reporting (agent.silent joins
// their remembered evidence until it fades after they are back), and, at
// most once per fpRefresh, lets cluster links that no device has shown
// within the window expire. It reads device records and clusters, never
// reports.
func (e *Engine) Sweep(tx *store.Tx, now time.Time) (int, error) {
	cfg := e.Config()
	n, err := e.sweepSilence(tx, &cfg, now)
	if err != nil {
		return n, err
	}
	e.expireMu.Lock()
	defer e.expireMu.Unlock()
	if now.Sub(e.lastExpiry) < fpRefresh && !now.Before(e.lastExpiry) {
		return n, nil
	}
	e.lastExpiry = now
	if err := e.expireClusters(tx, &cfg, now); err != nil {
		return n, fmt.Errorf("expire clusters: %w", err)
	}
	next, err := pruneFingerprints(tx, &cfg, e.pruneFrom, now, pruneBatch)
	if err != nil {
		return n, fmt.Errorf("prune the fingerprint index: %w", err)
	}
	e.pruneFrom = next
	return n, nil
}

// pruneBatch bounds one pass over the fingerprint index, so the sweep's
// transaction stays short however large the index.
const pruneBatch = 20000

// pruneFingerprints deletes index entries no link can use any more (older
// than the cluster window), looking at most max entries from `from`; it
// returns where the next pass starts (nil: the start). A laptop that reports
// a new network every time (a hostile one, or a travelling one) thus does
// not grow the index without bound.
func pruneFingerprints(tx *store.Tx, cfg *Config, from []byte, now time.Time, max int) ([]byte, error) {
	window := time.Duration(cfg.Cluster.WindowHours*float64(time.Hour)) + fpRefresh
	var stale [][]byte
	var next []byte
	seen := 0
	tx.ScanFrom(store.BucketFingerprints, from, func(k, v []byte) bool {
		if seen == max {
			next = append([]byte(nil), k...)
			return false
		}
		seen++
		if len(v) != 12 || now.Sub(time.Unix(int64(binary.BigEndian.Uint64(v)), 0)) > window {
			stale = append(stale, append([]byte(nil), k...))
		}
		return true
	})
	for _, k := range stale {
		if err := tx.Delete(store.BucketFingerprints, k); err != nil {
			return from, err
		}
	}
	return next, nil
}

func (e *Engine) sweepSilence(tx *store.Tx, cfg *Config, now time.Time) (int, error) {
	limit := cfg.silenceAfter()
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
		if now.Sub(last) < limit || dev.GetRevokedAt() != nil {
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
		state.remember(cfg, silentEvidence(cfg, last, now), now, state.clockAt(now, limit))
		v := state.view(cfg, now)
		if err := putState(tx, dev.GetId(), state); err != nil {
			return n, err
		}
		hire, err := tx.HireShared(dev.GetHireId())
		if err != nil {
			return n, err
		}
		dev.Score = scoreOf(cfg.Prior, v)
		if err := e.updateDeviceAlert(tx, cfg, hire, dev, state, v, now); err != nil {
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
		if !slices.Contains(state.Reviewed, r) {
			state.Reviewed = append(state.Reviewed, r)
		}
	}
	return putState(tx, deviceID, state)
}

// CurrentEvidence is the evidence behind a device's score at time now: each
// remembered line with what it adds now.
func CurrentEvidence(tx *store.Tx, cfg Config, deviceID string, now time.Time) []*pb.Evidence {
	state, err := loadState(tx.DeviceState(deviceID))
	if err != nil {
		return nil
	}
	return state.lines(&cfg, now)
}

// cloneAlert copies a shared alert before it is changed.
func cloneAlert(a *pb.Alert) *pb.Alert { return proto.Clone(a).(*pb.Alert) }
