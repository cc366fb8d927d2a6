package analysis

import (
	"encoding/json"
	"fmt"
	"math/bits"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

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
	// Shelf is a ring of the last 64 power samples (bit set = shelf-like);
	// PowerN how many of its bits are filled.
	Shelf  uint64 `json:"shelf"`
	PowerN int    `json:"power_n"`
	// Sticky holds event evidence that outlives its report.
	Sticky map[string]StickyEvidence `json:"sticky,omitempty"`
	// Reviewed are the rules a reviewer has already judged in a resolved
	// alert: they alone do not open a new one.
	Reviewed []string `json:"reviewed,omitempty"`
	// Silent is set by the silence sweep and cleared by the next report.
	Silent bool `json:"silent,omitempty"`
	// Current is the evidence behind the device's current score.
	Current []StickyEvidence `json:"current,omitempty"`
}

// Observation is a located report.
type Observation struct {
	Lat, Lon, AccuracyKM float64
	At                   time.Time
	IP, Place            string
}

// StickyEvidence is evidence kept until a time.
type StickyEvidence struct {
	Rule        string            `json:"rule"`
	Weight      float64           `json:"weight"`
	Explanation string            `json:"explanation"`
	Facts       map[string]string `json:"facts,omitempty"`
	At          time.Time         `json:"at"`
	Until       time.Time         `json:"until"`
}

// zones caches loaded time zones: time.LoadLocation reads and parses the
// zone file on every call, and the rules need two or three per report. Only
// zones that exist are kept, so the cache is bounded by the IANA database.
var zones sync.Map // name -> *time.Location

func loadLocation(name string) (*time.Location, error) {
	if l, ok := zones.Load(name); ok {
		return l.(*time.Location), nil
	}
	l, err := time.LoadLocation(name)
	if err != nil {
		return nil, err
	}
	zones.Store(name, l)
	return l, nil
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
		return s, json.Unmarshal(b, s)
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
	s.Shelf, s.PowerN = r.GetShelf(), int(r.GetPowerN())
	if len(r.GetSticky()) > 0 {
		s.Sticky = make(map[string]StickyEvidence, len(r.GetSticky()))
		for k, e := range r.GetSticky() {
			s.Sticky[k] = evidenceOf(e)
		}
	}
	s.Reviewed, s.Silent = r.GetReviewed(), r.GetSilent()
	for _, e := range r.GetCurrent() {
		s.Current = append(s.Current, evidenceOf(e))
	}
	return s, nil
}

func (s *DeviceState) encode() ([]byte, error) {
	r := &pb.StoredDeviceState{Hours: s.Hours[:], ActiveSamples: s.ActiveSamples, Samples: s.Samples,
		FirstSample: nanos(s.FirstSample), LastSample: nanos(s.LastSample), Shelf: s.Shelf, PowerN: int32(s.PowerN),
		Reviewed: s.Reviewed, Silent: s.Silent}
	if o := s.Last; o != nil {
		r.Last = &pb.StoredObservation{Lat: o.Lat, Lon: o.Lon, AccuracyKm: o.AccuracyKM, At: nanos(o.At), Ip: o.IP, Place: o.Place}
	}
	if len(s.Sticky) > 0 {
		r.Sticky = make(map[string]*pb.StoredEvidence, len(s.Sticky))
		for k, e := range s.Sticky {
			r.Sticky[k] = storedEvidence(e)
		}
	}
	if len(s.Current) > 0 {
		r.Current = make([]*pb.StoredEvidence, len(s.Current))
		for i, e := range s.Current {
			r.Current[i] = storedEvidence(e)
		}
	}
	return proto.Marshal(r)
}

func storedEvidence(e StickyEvidence) *pb.StoredEvidence {
	return &pb.StoredEvidence{Rule: e.Rule, Weight: e.Weight, Explanation: e.Explanation, Facts: e.Facts,
		At: nanos(e.At), Until: nanos(e.Until)}
}

func evidenceOf(e *pb.StoredEvidence) StickyEvidence {
	return StickyEvidence{Rule: e.GetRule(), Weight: e.GetWeight(), Explanation: e.GetExplanation(), Facts: e.GetFacts(),
		At: fromNanos(e.GetAt()), Until: fromNanos(e.GetUntil())}
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
			if loc, err := loadLocation(hire.GetHome().GetTimeZone()); err == nil && hire.GetHome().GetTimeZone() != "" {
				local = at.In(loc)
			}
			s.Hours[int(local.Weekday())*24+local.Hour()]++
			s.ActiveSamples++
		}
	}
	if p := r.GetPower(); p != nil {
		shelf := p.GetOnAc() && p.GetLid() == "closed" &&
			(r.GetActivity() == nil || r.GetActivity().GetIdleSeconds() < 0 || r.GetActivity().GetIdleSeconds() >= cfg.Power.IdleSeconds)
		s.Shelf <<= 1
		if shelf {
			s.Shelf |= 1
		}
		if s.PowerN < 64 {
			s.PowerN++
		}
	}
	for k, v := range s.Sticky {
		if now.After(v.Until) {
			delete(s.Sticky, k)
		}
	}
	// A report ends any silence.
	s.Silent = false
	delete(s.Sticky, RuleSilent)
}

// powerCounts returns how many of the last window power samples exist and
// how many were shelf-like.
func (s *DeviceState) powerCounts(window int) (n, shelf int) {
	n = min(s.PowerN, window, 64)
	if n == 0 {
		return 0, 0
	}
	mask := uint64(1)<<uint(n) - 1
	if n == 64 {
		mask = ^uint64(0)
	}
	return n, bits.OnesCount64(s.Shelf & mask)
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
