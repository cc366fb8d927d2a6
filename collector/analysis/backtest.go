package analysis

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/farmwatch/farmwatch/collector/store"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// A backtest replays stored reports, in the order the collector received
// them, through a fresh engine with another config, into a scratch store,
// and compares the alerts it raises with the verdicts reviewers gave in the
// source store. The engine takes its clock from each report's receive time
// and the replay sweeps at simulated times, so the replay of a store with
// the config it ran under raises what the collector raised.

// ErrNoReports is wrapped by Backtest's error when there is nothing to
// replay.
var ErrNoReports = errors.New("nothing to replay")

// ErrBadRange is wrapped by Backtest's error for a since that is not
// before until.
var ErrBadRange = errors.New("empty time range")

// ScratchPrefix starts the name of a backtest's scratch dir.
const ScratchPrefix = "farmwatch-backtest-"

// BacktestOptions say what to replay and how.
type BacktestOptions struct {
	// Config is the analysis config to replay with; its ReportInterval sets
	// how often the replay sweeps.
	Config Config
	// Since and Until bound the reports replayed by receive time,
	// [Since, Until); a zero time leaves that end open.
	Since, Until time.Time
	// ScratchDir is where the scratch store is made (the system's temporary
	// dir when empty); it is removed afterwards.
	ScratchDir string
	// Chunk is how many reports one short read transaction of the source
	// takes (store.DefaultScanChunk when 0).
	Chunk int
}

// sweepPeriod is how often the replay runs the engine's sweep, in
// simulated time: every report interval, at least once an hour, and no
// more than once a minute (the collector's own sweep interval).
func sweepPeriod(cfg *Config) time.Duration {
	p := cfg.ReportInterval
	if p <= 0 {
		p = 5 * time.Minute
	}
	return min(max(p, time.Minute), time.Hour)
}

// verdict is what reviewers decided about a device in the source store.
type verdict int

const (
	verdictFalsePositive verdict = iota + 1
	verdictConfirmed
)

// Backtest replays src's reports received in [Since, Until) through a
// fresh engine with opts.Config into a scratch store and reports what that
// store's alerts would have been and how they agree with src's verdicts.
// src may be the live store (it is read in short transactions while ingest
// goes on; reports that arrive after the backtest started are not
// replayed) or one opened with store.OpenReadOnly.
func Backtest(ctx context.Context, src *store.Store, opts BacktestOptions) (*pb.BacktestResponse, error) {
	since, until := opts.Since, opts.Until
	if !since.IsZero() && !until.IsZero() && !since.Before(until) {
		return nil, fmt.Errorf("%w: since %s is not before until %s", ErrBadRange, stamp(since), stamp(until))
	}
	first, last, ok, err := src.ReportSpan(time.Time{}, time.Time{})
	if err != nil {
		return nil, fmt.Errorf("backtest: %w", err)
	}
	if !ok {
		return nil, fmt.Errorf("%w: the store holds no reports", ErrNoReports)
	}
	if !since.IsZero() || !until.IsZero() {
		_, inRange, ok, err := src.ReportSpan(since, until)
		if err != nil {
			return nil, fmt.Errorf("backtest: %w", err)
		}
		if !ok {
			return nil, fmt.Errorf("%w: the store holds no reports received %s (it holds reports from %s to %s)",
				ErrNoReports, rangeText(since, until), stamp(first), stamp(last))
		}
		last = inRange
	}
	// What arrives while the replay runs is not chased.
	until = last.Add(time.Nanosecond)

	cfg := opts.Config
	res := &pb.BacktestResponse{ReviewThreshold: cfg.ReviewThreshold}
	for _, p := range cfg.Check() {
		res.Warnings = append(res.Warnings, "config: "+p)
	}
	judged, err := sourceVerdicts(src)
	if err != nil {
		return nil, err
	}

	dir, err := os.MkdirTemp(opts.ScratchDir, ScratchPrefix+"*")
	if err != nil {
		return nil, fmt.Errorf("scratch store: %w", err)
	}
	defer os.RemoveAll(dir)
	engine := NewEngine(cfg)
	scratch, err := store.Open(dir, store.Options{Analyze: engine.Analyze, Event: engine.RecordEvent, NoSync: true})
	if err != nil {
		return nil, fmt.Errorf("scratch store: %w", err)
	}
	defer scratch.Close()
	fleet, err := copyFleet(src, scratch, since)
	if err != nil {
		return nil, err
	}

	r := replay{ctx: ctx, scratch: scratch, engine: engine, fleet: fleet, period: sweepPeriod(&cfg),
		replayed: map[string]bool{}, skipped: map[string]int{}}
	if err := src.ScanReports(ctx, since, until, opts.Chunk, r.chunk); err != nil {
		return nil, fmt.Errorf("backtest: %w", err)
	}
	if err := r.flush(); err != nil {
		return nil, fmt.Errorf("backtest: %w", err)
	}
	if r.stored == 0 {
		return nil, fmt.Errorf("%w: none of the %d reports received %s could be replayed (%s)",
			ErrNoReports, r.seen, rangeText(opts.Since, opts.Until), r.skipText())
	}
	res.Reports = uint64(r.stored)
	res.Devices = uint32(len(r.replayed))
	res.FirstReport, res.LastReport = timestamppb.New(r.first), timestamppb.New(r.last)
	if len(r.skipped) > 0 {
		res.Warnings = append(res.Warnings, fmt.Sprintf("%d reports skipped: %s", r.seen-r.stored, r.skipText()))
	}
	if n := fleet.hiresChangedAfter(r.first); n > 0 {
		res.Warnings = append(res.Warnings, fmt.Sprintf("hires changed after the first replayed report (a declared move, a corrected record): %d; the replay judges all their reports against the record as it stands now", n))
	}

	err = scratch.View(func(tx *store.Tx) error {
		res.Alerts, err = tx.Alerts(nil)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("scratch alerts: %w", err)
	}
	sort.SliceStable(res.Alerts, func(i, j int) bool {
		a, b := res.Alerts[i], res.Alerts[j]
		if a.GetPeakScore() != b.GetPeakScore() {
			return a.GetPeakScore() > b.GetPeakScore()
		}
		return a.GetId() < b.GetId()
	})
	compare(res, judged, r.replayed, cfg.ReviewThreshold)
	return res, nil
}

// sourceVerdicts maps each device a resolved alert names to what reviewers
// decided: confirmed when any confirmed alert names it, false-positive when
// only false-positive ones do.
func sourceVerdicts(src *store.Store) (map[string]verdict, error) {
	out := map[string]verdict{}
	err := src.View(func(tx *store.Tx) error {
		_, err := tx.Alerts(func(a *pb.Alert) bool {
			var v verdict
			switch {
			case a.GetStatus() != "resolved":
				return false
			case a.GetVerdict() == "confirmed":
				v = verdictConfirmed
			case a.GetVerdict() == "false-positive":
				v = verdictFalsePositive
			default:
				return false // merged into another farm: no verdict of its own
			}
			for _, d := range alertDevices(a) {
				out[d] = max(out[d], v)
			}
			return false
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("read verdicts: %w", err)
	}
	return out, nil
}

// alertDevices are the devices an alert names: its device, or its farm's
// members.
func alertDevices(a *pb.Alert) []string {
	if a.GetDeviceId() != "" {
		return []string{a.GetDeviceId()}
	}
	return a.GetMemberDevices()
}

// fleetCopy is what the scratch store holds of the source's hires and
// devices.
type fleetCopy struct {
	devices map[string]bool   // devices copied
	missing map[string]string // device -> why its reports cannot be replayed
	updated map[string]time.Time
}

// copyFleet copies every hire and each device's identity (id, hire,
// hostname, os, enrolment, revocation) into the scratch store; nothing the
// analysis wrote (score, cluster, state, alerts) goes with it. With since
// set, a device enrolled earlier counts as enrolled at since: its reports
// before since are not replayed, and the silence sweep would otherwise take
// it for an agent quiet since enrolment.
func copyFleet(src, scratch *store.Store, since time.Time) (*fleetCopy, error) {
	var hires []*pb.Hire
	var devices []*pb.Device
	err := src.View(func(tx *store.Tx) (err error) {
		if hires, err = tx.Hires(); err != nil {
			return err
		}
		devices, err = tx.Devices("")
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("read hires and devices: %w", err)
	}
	f := &fleetCopy{devices: map[string]bool{}, missing: map[string]string{}, updated: map[string]time.Time{}}
	hireIDs := map[string]bool{}
	for _, h := range hires {
		hireIDs[h.GetId()] = true
		if h.GetUpdatedAt() != nil {
			f.updated[h.GetId()] = h.GetUpdatedAt().AsTime()
		}
	}
	err = scratch.Update(func(tx *store.Tx) error {
		for _, h := range hires {
			if err := tx.PutHire(h); err != nil {
				return err
			}
		}
		for _, d := range devices {
			if !hireIDs[d.GetHireId()] {
				f.missing[d.GetId()] = "their hire no longer exists"
				continue
			}
			enrolled := d.GetEnrolledAt()
			if !since.IsZero() && (enrolled == nil || enrolled.AsTime().Before(since)) {
				enrolled = timestamppb.New(since)
			}
			identity := &pb.Device{Id: d.GetId(), HireId: d.GetHireId(), Hostname: d.GetHostname(), Os: d.GetOs(),
				EnrolledAt: enrolled, RevokedAt: d.GetRevokedAt(), RevokedBy: d.GetRevokedBy(), RevokeNote: d.GetRevokeNote()}
			if err := tx.PutDevice(identity); err != nil {
				return err
			}
			f.devices[d.GetId()] = true
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("scratch store: copy hires and devices: %w", err)
	}
	return f, nil
}

// hiresChangedAfter counts the hires updated after t.
func (f *fleetCopy) hiresChangedAfter(t time.Time) int {
	n := 0
	for _, at := range f.updated {
		if at.After(t) {
			n++
		}
	}
	return n
}

// replay feeds the scratch store chunk by chunk, sweeping whenever the
// replay's clock passes a sweep boundary.
type replay struct {
	ctx     context.Context
	scratch *store.Store
	engine  *Engine
	fleet   *fleetCopy
	period  time.Duration

	pending     []*pb.StoredReport
	nextSweep   time.Time
	first, last time.Time
	seen        int
	stored      int
	replayed    map[string]bool // devices with a replayed report
	skipped     map[string]int  // why -> reports
}

// replayBatch is how many reports one scratch transaction stores.
const replayBatch = 1024

func (r *replay) chunk(batch []*pb.StoredReport) error {
	for _, sr := range batch {
		r.seen++
		dev := sr.GetDeviceId()
		if !r.fleet.devices[dev] {
			why := r.fleet.missing[dev]
			if why == "" {
				why = "their device no longer exists"
			}
			r.skipped[why]++
			continue
		}
		at := sr.GetReceivedAt().AsTime()
		if r.nextSweep.IsZero() {
			r.nextSweep = at.Truncate(r.period)
		}
		// The collector sweeps on its own clock between reports; here the
		// clock is the reports' receive time.
		for !r.nextSweep.After(at) {
			if err := r.sweep(r.nextSweep); err != nil {
				return err
			}
			r.nextSweep = r.nextSweep.Add(r.period)
		}
		r.pending = append(r.pending, sr)
		if len(r.pending) >= replayBatch {
			if err := r.flush(); err != nil {
				return err
			}
		}
	}
	return r.flush()
}

func (r *replay) sweep(now time.Time) error {
	if err := r.flush(); err != nil {
		return err
	}
	if err := r.ctx.Err(); err != nil {
		return err
	}
	err := r.scratch.Update(func(tx *store.Tx) error {
		_, err := r.engine.Sweep(tx, now)
		return err
	})
	if err != nil {
		return fmt.Errorf("sweep at %s: %w", stamp(now), err)
	}
	return nil
}

func (r *replay) flush() error {
	if len(r.pending) == 0 {
		return nil
	}
	if err := r.ctx.Err(); err != nil {
		return err
	}
	res, err := r.scratch.IngestInOrder(r.pending)
	if err != nil {
		return fmt.Errorf("replay: %w", err)
	}
	r.stored += res.Stored
	if res.Duplicates > 0 {
		r.skipped["the store holds them twice"] += res.Duplicates
	}
	if res.Refused > 0 {
		r.skipped["the scratch store refused them"] += res.Refused
	}
	for _, sr := range r.pending {
		at := sr.GetReceivedAt().AsTime()
		if r.first.IsZero() || at.Before(r.first) {
			r.first = at
		}
		if at.After(r.last) {
			r.last = at
		}
		if _, refused := res.Refusals[sr.GetDeviceId()]; !refused {
			r.replayed[sr.GetDeviceId()] = true
		}
	}
	r.pending = r.pending[:0]
	return nil
}

func (r *replay) skipText() string {
	whys := make([]string, 0, len(r.skipped))
	for why, n := range r.skipped {
		whys = append(whys, fmt.Sprintf("%d because %s", n, why))
	}
	slices.Sort(whys)
	if len(whys) == 0 {
		return "none skipped"
	}
	return strings.Join(whys, "; ")
}

// compare counts the replay's devices at review against the verdicts: a
// device is at review when an alert naming it peaked at the review
// threshold or above. Devices the replay never saw a report of are left
// out: the backtest cannot judge them.
func compare(res *pb.BacktestResponse, judged map[string]verdict, replayed map[string]bool, review float64) {
	atReview := map[string]bool{}
	for _, a := range res.GetAlerts() {
		if a.GetPeakScore() >= review {
			for _, d := range alertDevices(a) {
				atReview[d] = true
			}
		}
	}
	unseen := 0
	for d, v := range judged {
		if !replayed[d] {
			unseen++
			continue
		}
		switch {
		case v == verdictConfirmed && atReview[d]:
			res.ConfirmedDevices++
			res.TruePositives++
		case v == verdictConfirmed:
			res.ConfirmedDevices++
			res.FalseNegatives++
		case atReview[d]:
			res.FalsePositiveDevices++
			res.FalsePositives++
		default:
			res.FalsePositiveDevices++
		}
	}
	for d := range atReview {
		if judged[d] == 0 {
			res.UnjudgedAtReview++
		}
	}
	// 0 where the ratio is undefined; the counts beside it say which.
	if n := res.TruePositives + res.FalsePositives; n > 0 {
		res.Precision = float64(res.TruePositives) / float64(n)
	}
	if n := res.TruePositives + res.FalseNegatives; n > 0 {
		res.Recall = float64(res.TruePositives) / float64(n)
	}
	switch {
	case len(judged) == 0:
		res.Warnings = append(res.Warnings, "the store holds no resolved alert with a verdict: precision and recall mean nothing until reviewers resolve alerts as confirmed or false-positive")
	case unseen == len(judged):
		res.Warnings = append(res.Warnings, fmt.Sprintf("none of the %d devices with a verdict has a replayed report: precision and recall mean nothing for this time range", unseen))
	case unseen > 0:
		res.Warnings = append(res.Warnings, fmt.Sprintf("%d devices with a verdict have no replayed report and are left out of precision and recall", unseen))
	}
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func rangeText(since, until time.Time) string {
	switch {
	case since.IsZero() && until.IsZero():
		return "at any time"
	case until.IsZero():
		return "from " + stamp(since)
	case since.IsZero():
		return "before " + stamp(until)
	}
	return "between " + stamp(since) + " and " + stamp(until)
}
