package analysis

import (
	"math"
	"sort"
	"time"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// A device's score comes from what its rules have shown over time, not from
// its latest report alone: each rule's evidence is remembered (first and
// last seen, how many reports, the weight it carries) and fades by the
// rule's decay. The score counts each rule once, at its faded weight:
//
//	score = sigmoid(prior + sum over rules of weight * decay(age))
//
// where age is the device's observed time since the rule last fired at that
// weight. A controller seen a few hours a day thus keeps the device in the
// queue all day; a traveller's two days away fade out within a day of
// coming home.

// forgetAfter is how long past its decay a faded line is kept, so alerts
// can still show what a device once showed.
const forgetAfter = 30 * 24 * time.Hour

// clockAt is the device's observed clock at collector time t: time passes
// while the agent reports, and a gap counts only up to the silence limit.
func (s *DeviceState) clockAt(t time.Time, gapLimit time.Duration) time.Duration {
	if s.ClockAt.IsZero() {
		return s.Clock
	}
	gap := min(max(t.Sub(s.ClockAt), 0), gapLimit)
	return s.Clock + gap
}

// advance moves the observed clock to t, the arrival of a report.
func (s *DeviceState) advance(t time.Time, gapLimit time.Duration) {
	if !t.After(s.ClockAt) {
		return // a report arriving with an older stamp moves nothing
	}
	s.Clock = s.clockAt(t, gapLimit)
	s.ClockAt = t
}

// remember folds one firing of a rule into the device's memory. The line
// keeps the strongest of its fresh weight and what its earlier firings
// still carry, so a weaker repeat (a KVM seen again at lower confidence)
// does not erase a stronger sign before it has faded.
//
// now is the collector time it was seen, clk the device's observed clock
// then.
func (s *DeviceState) remember(cfg *Config, ev *pb.Evidence, now time.Time, clk time.Duration) {
	spec, ok := LookupRule(ev.GetRule())
	if !ok {
		return
	}
	d := spec.decay(cfg)
	m := s.Memory[ev.GetRule()]
	if m != nil && clk-m.LastClock > d.Span() {
		m = nil // fully faded: this is a new episode
	}
	w := ev.GetWeight()
	if m == nil {
		if s.Memory == nil {
			s.Memory = map[string]*Memory{}
		}
		m = &Memory{Rule: ev.GetRule(), FirstSeen: now, Weight: w, LastClock: clk}
		s.Memory[ev.GetRule()] = m
	}
	m.Count++
	if now.Before(m.FirstSeen) {
		m.FirstSeen = now
	}
	if now.After(m.LastSeen) {
		m.LastSeen = now
	}
	if w >= m.Weight*d.Factor(clk-m.LastClock) {
		m.Weight, m.LastClock, m.Explanation, m.Facts = w, clk, ev.GetExplanation(), ev.GetFacts()
	}
	m.Peak = max(m.Peak, w)
}

// forget drops lines long past their decay.
func (s *DeviceState) forget(cfg *Config, clk time.Duration) {
	for k, m := range s.Memory {
		spec, ok := LookupRule(k)
		if !ok || clk-m.LastClock > spec.decay(cfg).Span()+forgetAfter {
			delete(s.Memory, k)
		}
	}
}

// line is one remembered rule at a moment: what it adds then.
type line struct {
	m      *Memory
	spec   *RuleSpec
	decay  Decay
	weight float64
}

// view is the device's remembered lines at collector time now, in the order
// a reviewer reads them (sortLines'): what the score and the per-report
// alert check need, without building evidence messages.
func (s *DeviceState) view(cfg *Config, now time.Time) []line {
	if len(s.Memory) == 0 {
		return nil
	}
	clk := s.clockAt(now, cfg.silenceAfter())
	out := make([]line, 0, len(s.Memory))
	for k, m := range s.Memory {
		spec, ok := LookupRule(k)
		if !ok {
			continue // a rule this version no longer has
		}
		d := spec.decay(cfg)
		out = append(out, line{m: m, spec: spec, decay: d, weight: m.Weight * d.Factor(clk-m.LastClock)})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].weight != out[j].weight {
			return out[i].weight > out[j].weight
		}
		if out[i].m.Peak != out[j].m.Peak {
			return out[i].m.Peak > out[j].m.Peak
		}
		return out[i].m.Rule < out[j].m.Rule
	})
	return out
}

// scoreOf is sigmoid(prior + what the lines add now).
func scoreOf(prior float64, v []line) float64 {
	z := prior
	for _, l := range v {
		z += l.weight
	}
	return sigmoid(z)
}

// evidence turns a view into the lines an alert and a device view show:
// every remembered rule with what it adds now (faded lines included, at
// zero), strongest first.
func evidence(v []line) []*pb.Evidence {
	out := make([]*pb.Evidence, 0, len(v))
	for _, l := range v {
		m := l.m
		out = append(out, &pb.Evidence{Rule: m.Rule, Weight: l.weight, Explanation: m.Explanation, Facts: m.Facts,
			ObservedAt: tsOf(m.LastSeen), FirstSeen: tsOf(m.FirstSeen), PeakWeight: m.Peak, FreshWeight: m.Weight,
			Reports: m.Count, Class: string(l.spec.Class), Decay: l.decay.String()})
	}
	return out
}

// lines is the device's evidence at collector time now.
func (s *DeviceState) lines(cfg *Config, now time.Time) []*pb.Evidence {
	return evidence(s.view(cfg, now))
}

// shows tells whether evidence already shows these lines as a reviewer
// reads them: the same rules in the same order, weights and peaks to the
// hundredth, the same sentences.
func shows(ev []*pb.Evidence, v []line) bool {
	if len(ev) != len(v) {
		return false
	}
	for i, l := range v {
		e := ev[i]
		if e.GetRule() != l.m.Rule || math.Abs(e.GetWeight()-l.weight) >= 0.005 ||
			math.Abs(e.GetPeakWeight()-l.m.Peak) >= 0.005 || e.GetExplanation() != l.m.Explanation {
			return false
		}
	}
	return true
}

// sortLines puts the lines that add most first, faded ones last by peak.
func sortLines(ev []*pb.Evidence) {
	sort.SliceStable(ev, func(i, j int) bool {
		if ev[i].GetWeight() != ev[j].GetWeight() {
			return ev[i].GetWeight() > ev[j].GetWeight()
		}
		if ev[i].GetPeakWeight() != ev[j].GetPeakWeight() {
			return ev[i].GetPeakWeight() > ev[j].GetPeakWeight()
		}
		return ev[i].GetRule() < ev[j].GetRule()
	})
}

// live are the lines that add to the score now.
func live(ev []*pb.Evidence) []*pb.Evidence {
	out := make([]*pb.Evidence, 0, len(ev))
	for _, e := range ev {
		if e.GetWeight() > 0 {
			out = append(out, e)
		}
	}
	return out
}
