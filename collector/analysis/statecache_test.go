package analysis

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/farmwatch/farmwatch/collector/store"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
	"google.golang.org/protobuf/proto"
)

// A cached state is used only while the stored bytes match: after a
// rolled-back transaction the stored state wins.
func TestStateCacheFollowsTheStore(t *testing.T) {
	st, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	c := newStateCache(2)
	err = st.Update(func(tx *store.Tx) error {
		for _, id := range []string{"d-1", "a", "b", "c", "d"} {
			if err := tx.PutDevice(&pb.Device{Id: id, HireId: "h1"}); err != nil {
				return err
			}
		}
		s, err := c.load(tx, "d-1")
		if err != nil {
			return err
		}
		s.Samples = 5
		return c.save(tx, "d-1", s)
	})
	if err != nil {
		t.Fatal(err)
	}
	// A transaction that changes the state and then fails.
	boom := errors.New("boom")
	st.Update(func(tx *store.Tx) error {
		s, _ := c.load(tx, "d-1")
		s.Samples = 99
		c.save(tx, "d-1", s)
		return boom
	})
	st.Update(func(tx *store.Tx) error {
		s, err := c.load(tx, "d-1")
		if err != nil || s.Samples != 5 {
			t.Errorf("after a rollback the state says %d samples (%v), want the stored 5", s.Samples, err)
		}
		return nil
	})
	// The cap holds.
	st.Update(func(tx *store.Tx) error {
		for _, id := range []string{"a", "b", "c", "d"} {
			s, _ := c.load(tx, id)
			if err := c.save(tx, id, s); err != nil {
				t.Error(err)
			}
		}
		return nil
	})
	if len(c.m) > 2 {
		t.Errorf("cache holds %d entries, cap 2", len(c.m))
	}
}

// benchState is a farm member's state after weeks of reports.
func benchState() *DeviceState {
	at := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	s := &DeviceState{Last: &Observation{Lat: 33.45, Lon: -112.07, AccuracyKM: 20, At: at, IP: "68.2.1.7", Place: "Phoenix, AZ, US"},
		ActiveSamples: 900, Samples: 2000, FirstSample: at.Add(-500 * time.Hour), LastSample: at,
		PowerHours: ^uint64(0), ShelfHours: 0xfffffffffff0, PowerHour: at.Unix() / 3600,
		Clock: 500 * time.Hour, ClockAt: at, LostReports: 3}
	for i := range s.Hours {
		s.Hours[i] = uint32(i * 7 % 23)
	}
	s.Memory = map[string]*Memory{
		RuleColocated: {Rule: RuleColocated, Weight: 3.6, Peak: 3.6, FirstSeen: at.Add(-400 * time.Hour), LastSeen: at, LastClock: s.Clock, Count: 4800,
			Explanation: strings.Repeat("Laptop farm C-000001 in Phoenix: 100 devices share one network. ", 20),
			Facts:       map[string]string{"cluster": "C-000001", "members": "100"}},
		RuleShelfPattern: {Rule: RuleShelfPattern, Weight: 1, Peak: 1, FirstSeen: at.Add(-380 * time.Hour), LastSeen: at, LastClock: s.Clock, Count: 4500,
			Explanation: "In 48 of the last 48 hours with power samples (of 48) the laptop was on mains power with its lid closed and no local input: it sits on a shelf."},
		RuleHighRiskPeer: {Rule: RuleHighRiskPeer, Weight: 3.6, Peak: 3.6, FirstSeen: at.Add(-300 * time.Hour), LastSeen: at.Add(-5 * time.Hour),
			LastClock: s.Clock - 5*time.Hour, Count: 120, Explanation: "A remote-access tool is connected to 113.224.1.9 in Shenyang, Liaoning, CN (anydesk, AS4837 CHINA UNICOM China169 Backbone).",
			Facts: map[string]string{"peer.113.224.1.9": "CN"}},
	}
	return s
}

// go test -run '^$' -bench StateCodec ./collector/analysis/
func BenchmarkStateCodec(b *testing.B) {
	s := benchState()
	enc, err := s.encode()
	if err != nil {
		b.Fatal(err)
	}
	b.Run("encode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.encode(); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(enc)), "bytes")
	})
	b.Run("decode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := loadState(enc); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// A state reads back as it was written; states of older schemas (JSON, and
// protobuf with sticky evidence) read their event evidence into memory.
func TestStateCodecRoundTrip(t *testing.T) {
	s := benchState()
	s.Reviewed, s.Silent = []string{RuleShelfPattern}, true
	enc, err := s.encode()
	if err != nil {
		t.Fatal(err)
	}
	got, err := loadState(enc)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, s) {
		t.Errorf("read back\n%+v\nwrote\n%+v", got, s)
	}

	at := s.LastSample
	sticky := StickyEvidence{Rule: RuleImpossibleTravel, Weight: 1.5, Explanation: "Seoul then Phoenix",
		Facts: map[string]string{"km": "10000"}, At: at, Until: at.Add(72 * time.Hour)}
	legacyJSON, err := json.Marshal(legacyState{Hours: s.Hours, ActiveSamples: 9, Samples: 10, Reviewed: []string{RuleTZMismatch},
		Sticky: map[string]StickyEvidence{sticky.Rule: sticky}})
	if err != nil {
		t.Fatal(err)
	}
	legacyProto, err := proto.Marshal(&pb.StoredDeviceState{ActiveSamples: 9, Samples: 10, Reviewed: []string{RuleTZMismatch},
		Hours: s.Hours[:], Shelf: 0xff, PowerN: 8, Current: []*pb.StoredEvidence{{Rule: RuleShelfPattern, Weight: 1}},
		Sticky: map[string]*pb.StoredEvidence{sticky.Rule: {Rule: sticky.Rule, Weight: sticky.Weight, Explanation: sticky.Explanation,
			Facts: sticky.Facts, At: at.UnixNano(), Until: sticky.Until.UnixNano()}}})
	if err != nil {
		t.Fatal(err)
	}
	want := &Memory{Rule: RuleImpossibleTravel, Weight: 1.5, Peak: 1.5, FirstSeen: at, LastSeen: at, Count: 1,
		Explanation: "Seoul then Phoenix", Facts: map[string]string{"km": "10000"}}
	for name, b := range map[string][]byte{"schema 2 JSON": legacyJSON, "schema 4 protobuf": legacyProto} {
		got, err := loadState(b)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got.ActiveSamples != 9 || got.Samples != 10 || got.Hours != s.Hours || !reflect.DeepEqual(got.Reviewed, []string{RuleTZMismatch}) {
			t.Errorf("%s: samples and reviews not kept: %+v", name, got)
		}
		if m := got.Memory[RuleImpossibleTravel]; !reflect.DeepEqual(m, want) || len(got.Memory) != 1 {
			t.Errorf("%s: memory %+v, want only %+v", name, got.Memory, want)
		}
	}
	if empty, err := loadState(nil); err != nil || !reflect.DeepEqual(empty, &DeviceState{}) {
		t.Errorf("no state: %+v, %v", empty, err)
	}
	if _, err := loadState([]byte{0x12, 0xff}); err == nil {
		t.Error("a truncated record read without an error")
	}
}
