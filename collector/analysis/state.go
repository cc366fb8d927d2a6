package analysis

import (
	"encoding/json"
	"fmt"
	"maps"
	"math/bits"
	"slices"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/farmwatch/farmwatch/geo"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// DeviceState is what the engine remembers of a device between reports, so
// each report is judged without reading older reports.
type DeviceState struct {
	// Last is the newest located observation (for impossible travel).
	Last *Observation `json:"last,omitempty"`
	// Hours counts active local-input samples by hour of the week in the
	// claimed home's time zone (0 = Sunday 00:00).
	Hours         [168]uint32 `json:"hours"`
	ActiveSamples uint32      `json:"active_samples"`
	Samples       uint32      `json:"samples"`
	FirstSample   time.Time   `json:"first_sample,omitzero"`
	LastSample    time.Time   `json:"last_sample,omitzero"`
	// PowerHours and ShelfHours hold the last 64 hours of power samples:
	// bit i stands for the hour PowerHour-i (Unix hours). A PowerHours bit
	// says the hour had a sample, a ShelfHours bit that all its samples were
	// shelf-like. By the hour, not by the report: the pattern means the same
	// at any report interval.
	PowerHours, ShelfHours uint64
	PowerHour              int64
	// Memory is each rule's remembered evidence, by rule id.
	Memory map[string]*Memory
	// Clock is the device's observed time: collector time that passed while
	// the agent reported, a gap counted up to the silence limit only; ClockAt
	// the collector time it last advanced. Evidence decays on this clock, so
	// an agent switched off does not age its evidence away.
	Clock   time.Duration
	ClockAt time.Time
	// LostReports is the agent's count of reports it lost, as of its latest
	// report.
	LostReports uint64
	// Reviewed are the rules a reviewer has already judged in a resolved
	// alert: they alone do not open a new one.
	Reviewed []string `json:"reviewed,omitempty"`
	// Silent is set by the silence sweep and cleared by the next report.
	Silent bool `json:"silent,omitempty"`
}

// Observation is a located report.
type Observation struct {
	Lat, Lon, AccuracyKM float64
	At                   time.Time
	IP, Place            string
}

// Memory is one rule's remembered evidence on a device: when it was first
// and last seen, in how many reports, the weight it carries when fresh, the
// most it ever carried, and the sentence of its strongest recent firing.
type Memory struct {
	Rule        string
	Weight      float64
	Peak        float64
	FirstSeen   time.Time
	LastSeen    time.Time
	LastClock   time.Duration
	Count       uint32
	Explanation string
	Facts       map[string]string
}

// legacyState is a state as schema 2 stored it, in JSON.
type legacyState struct {
	Last          *Observation              `json:"last,omitempty"`
	Hours         [168]uint32               `json:"hours"`
	ActiveSamples uint32                    `json:"active_samples"`
	Samples       uint32                    `json:"samples"`
	FirstSample   time.Time                 `json:"first_sample,omitzero"`
	LastSample    time.Time                 `json:"last_sample,omitzero"`
	Sticky        map[string]StickyEvidence `json:"sticky,omitempty"`
	Reviewed      []string                  `json:"reviewed,omitempty"`
	Silent        bool                      `json:"silent,omitempty"`
}

// StickyEvidence is event evidence as states before schema 6 kept it: it
// is read into Memory.
type StickyEvidence struct {
	Rule        string            `json:"rule"`
	Weight      float64           `json:"weight"`
	Explanation string            `json:"explanation"`
	Facts       map[string]string `json:"facts,omitempty"`
	At          time.Time         `json:"at"`
	Until       time.Time         `json:"until"`
}

// A state is stored as protobuf (pb.StoredDeviceState); states written
// before that are JSON, which always starts with '{', a byte no protobuf
// record of it starts with. Protobuf takes a fifth of the time JSON took to
// write and a tenth to read (BenchmarkStateCodec), and a state is written on
// every report.
func loadState(b []byte) (*DeviceState, error) {
	s := &DeviceState{}
	if len(b) == 0 {
		return s, nil
	}
	if b[0] == '{' {
		var l legacyState
		if err := json.Unmarshal(b, &l); err != nil {
			return s, err
		}
		s.Last, s.Hours, s.ActiveSamples, s.Samples = l.Last, l.Hours, l.ActiveSamples, l.Samples
		s.FirstSample, s.LastSample, s.Reviewed, s.Silent = l.FirstSample, l.LastSample, l.Reviewed, l.Silent
		s.rememberSticky(l.Sticky)
		return s, nil
	}
	var r pb.StoredDeviceState
	if err := proto.Unmarshal(b, &r); err != nil {
		return s, err
	}
	if o := r.GetLast(); o != nil {
		s.Last = &Observation{Lat: o.GetLat(), Lon: o.GetLon(), AccuracyKM: o.GetAccuracyKm(), At: fromNanos(o.GetAt()),
			IP: o.GetIp(), Place: o.GetPlace()}
	}
	if len(r.GetHours()) > len(s.Hours) {
		return s, fmt.Errorf("state: %d hour counts, a week has %d", len(r.GetHours()), len(s.Hours))
	}
	copy(s.Hours[:], r.GetHours())
	s.ActiveSamples, s.Samples = r.GetActiveSamples(), r.GetSamples()
	s.FirstSample, s.LastSample = fromNanos(r.GetFirstSample()), fromNanos(r.GetLastSample())
	s.PowerHours, s.ShelfHours, s.PowerHour = r.GetPowerHours(), r.GetShelfHours(), r.GetPowerHour()
	s.Clock, s.ClockAt, s.LostReports = time.Duration(r.GetClock()), fromNanos(r.GetClockAt()), r.GetLostReports()
	s.Reviewed, s.Silent = r.GetReviewed(), r.GetSilent()
	if len(r.GetMemory()) > 0 {
		s.Memory = make(map[string]*Memory, len(r.GetMemory()))
		for _, m := range r.GetMemory() {
			s.Memory[m.GetRule()] = &Memory{Rule: m.GetRule(), Weight: m.GetWeight(), Peak: m.GetPeak(),
				FirstSeen: fromNanos(m.GetFirstSeen()), LastSeen: fromNanos(m.GetLastSeen()),
				LastClock: time.Duration(m.GetLastClock()), Count: m.GetCount(), Explanation: m.GetExplanation(), Facts: m.GetFacts()}
		}
	}
	if len(r.GetSticky()) > 0 { // written before schema 6
		sticky := make(map[string]StickyEvidence, len(r.GetSticky()))
		for k, e := range r.GetSticky() {
			sticky[k] = StickyEvidence{Rule: e.GetRule(), Weight: e.GetWeight(), Explanation: e.GetExplanation(),
				Facts: e.GetFacts(), At: fromNanos(e.GetAt()), Until: fromNanos(e.GetUntil())}
		}
		s.rememberSticky(sticky)
	}
	return s, nil
}

// rememberSticky reads the event evidence of a state written before schema
// 5 into memory, fresh at the time it was seen.
func (s *DeviceState) rememberSticky(sticky map[string]StickyEvidence) {
	for _, k := range slices.Sorted(maps.Keys(sticky)) {
		e := sticky[k]
		if s.Memory == nil {
			s.Memory = map[string]*Memory{}
		}
		s.Memory[e.Rule] = &Memory{Rule: e.Rule, Weight: e.Weight, Peak: e.Weight, FirstSeen: e.At, LastSeen: e.At,
			LastClock: s.Clock, Count: 1, Explanation: e.Explanation, Facts: e.Facts}
	}
}

func (s *DeviceState) encode() ([]byte, error) {
	r := &pb.StoredDeviceState{Hours: s.Hours[:], ActiveSamples: s.ActiveSamples, Samples: s.Samples,
		FirstSample: nanos(s.FirstSample), LastSample: nanos(s.LastSample),
		PowerHours: s.PowerHours, ShelfHours: s.ShelfHours, PowerHour: s.PowerHour,
		Clock: int64(s.Clock), ClockAt: nanos(s.ClockAt), LostReports: s.LostReports,
		Reviewed: s.Reviewed, Silent: s.Silent}
	if o := s.Last; o != nil {
		r.Last = &pb.StoredObservation{Lat: o.Lat, Lon: o.Lon, AccuracyKm: o.AccuracyKM, At: nanos(o.At), Ip: o.IP, Place: o.Place}
	}
	if len(s.Memory) > 0 {
		r.Memory = make([]*pb.StoredMemory, 0, len(s.Memory))
		for _, k := range slices.Sorted(maps.Keys(s.Memory)) {
			m := s.Memory[k]
			r.Memory = append(r.Memory, &pb.StoredMemory{Rule: m.Rule, Weight: m.Weight, Peak: m.Peak,
				FirstSeen: nanos(m.FirstSeen), LastSeen: nanos(m.LastSeen), LastClock: int64(m.LastClock),
				Count: m.Count, Explanation: m.Explanation, Facts: m.Facts})
		}
	}
	return proto.Marshal(r)
}

// nanos and fromNanos store a time as Unix nanoseconds, 0 for none.
func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// observe folds one report into the state, after the rules have seen the
// state as it was.
func (s *DeviceState) observe(cfg *Config, hire *pb.Hire, sr *pb.StoredReport, located *pb.IPLocation) {
	now := sr.GetReceivedAt().AsTime()
	if located != nil && (located.GetLatitude() != 0 || located.GetLongitude() != 0) {
		s.Last = &Observation{Lat: located.GetLatitude(), Lon: located.GetLongitude(), AccuracyKM: located.GetAccuracyKm(),
			At: now, IP: sr.GetPublicIp(), Place: place(located)}
	}
	r := sr.GetReport()
	at := sampleTime(sr)
	if act := r.GetActivity(); act != nil && act.GetIdleSeconds() >= 0 && (act.GetIdleSeconds() > 0 || act.GetConsoleUserPresent()) {
		if s.FirstSample.IsZero() || at.Before(s.FirstSample) {
			s.FirstSample = at
		}
		s.Samples++
		if at.After(s.LastSample) {
			s.LastSample = at
		}
		if act.GetIdleSeconds() < cfg.Activity.ActiveIdleSeconds {
			local := at
			if loc, err := geo.LoadZone(hire.GetHome().GetTimeZone()); err == nil && hire.GetHome().GetTimeZone() != "" {
				local = at.In(loc)
			}
			s.Hours[int(local.Weekday())*24+local.Hour()]++
			s.ActiveSamples++
		}
	}
	if p := r.GetPower(); p != nil {
		shelf := p.GetOnAc() && p.GetLid() == "closed" &&
			(r.GetActivity() == nil || r.GetActivity().GetIdleSeconds() < 0 || r.GetActivity().GetIdleSeconds() >= cfg.Power.IdleSeconds)
		s.powerSample(at, shelf)
	}
	if h := r.GetHealth(); h != nil {
		s.LostReports = h.GetDropped() + h.GetUnspooled()
	}
}

// powerSample records one power sample in its hour.
func (s *DeviceState) powerSample(at time.Time, shelf bool) {
	hour := at.Unix() / 3600
	switch d := hour - s.PowerHour; {
	case d >= 64 || s.PowerHours == 0:
		s.PowerHours, s.ShelfHours, s.PowerHour = 0, 0, hour
	case d > 0:
		s.PowerHours <<= uint(d)
		s.ShelfHours <<= uint(d)
		s.PowerHour = hour
	case d <= -64:
		return // older than the bitmap: a long-spooled report
	}
	bit := uint64(1) << uint(s.PowerHour-hour)
	if s.PowerHours&bit == 0 {
		s.PowerHours |= bit
		if shelf {
			s.ShelfHours |= bit
		}
	} else if !shelf {
		s.ShelfHours &^= bit
	}
}

// powerCounts returns how many of the window hours up to now had power
// samples, and how many of them were all shelf-like.
func (s *DeviceState) powerCounts(now time.Time, window int) (hours, shelf int) {
	shift := now.Unix()/3600 - s.PowerHour
	if shift < 0 {
		shift = 0
	}
	if shift >= int64(window) || window <= 0 {
		return 0, 0
	}
	n := window - int(shift) // bits 0..n-1 of the bitmap lie in the window
	mask := ^uint64(0)
	if n < 64 {
		mask = uint64(1)<<uint(n) - 1
	}
	return bits.OnesCount64(s.PowerHours & mask), bits.OnesCount64(s.ShelfHours & mask)
}

func (s *DeviceState) nightActive(start, end int) uint32 {
	var n uint32
	for i, c := range s.Hours {
		h := i % 24
		inNight := h >= start || h < end
		if start < end {
			inNight = h >= start && h < end
		}
		if inNight {
			n += c
		}
	}
	return n
}

func (s *DeviceState) peakHour() int {
	var byHour [24]uint32
	for i, c := range s.Hours {
		byHour[i%24] += c
	}
	best := 0
	for h, c := range byHour {
		if c > byHour[best] {
			best = h
		}
	}
	return best
}

// sampleTime is when a report's local facts (input, power) were true: the
// laptop's collection time corrected by the clock skew the agent measured
// against the collector, and never later than its arrival. Spooled reports
// thus land in the hours they describe. The public IP, in contrast, belongs
// to the delivery and is judged at the receive time.
func sampleTime(sr *pb.StoredReport) time.Time {
	recv := sr.GetReceivedAt().AsTime()
	r := sr.GetReport()
	if r.GetCollectedAt() == nil {
		return recv
	}
	at := r.GetCollectedAt().AsTime()
	if l := r.GetLocale(); l.GetClockSkewKnown() {
		at = at.Add(time.Duration(l.GetClockSkewMs()) * time.Millisecond)
	}
	if at.After(recv) {
		return recv
	}
	return at
}
