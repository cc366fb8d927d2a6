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
		ActiveSamples: 900, Samples: 2000, FirstSample: at.Add(-500 * time.Hour), LastSample: at, Shelf: 0xf0f0f0f0, PowerN: 64}
	for i := range s.Hours {
		s.Hours[i] = uint32(i * 7 % 23)
	}
	s.Current = []StickyEvidence{
		{Rule: RuleColocated, Weight: 2.5, Explanation: strings.Repeat("Laptop farm C-000001 in Phoenix: 100 devices share one network. ", 20),
			Facts: map[string]string{"cluster": "C-000001", "members": "100"}, At: at},
		{Rule: RuleShelfPattern, Weight: 1.2, Explanation: "Lid closed on AC power for 60 of the last 64 samples.", At: at},
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

// A state reads back as it was written, from protobuf and from the JSON that
// stores written before it.
func TestStateCodecRoundTrip(t *testing.T) {
	s := benchState()
	s.Sticky = map[string]StickyEvidence{RuleImpossibleTravel: {Rule: RuleImpossibleTravel, Weight: 3, Explanation: "Seoul then Phoenix",
		Facts: map[string]string{"km": "10000"}, At: s.LastSample, Until: s.LastSample.Add(72 * time.Hour)}}
	s.Reviewed, s.Silent = []string{RuleShelfPattern}, true
	enc, err := s.encode()
	if err != nil {
		t.Fatal(err)
	}
	legacy, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{"protobuf": enc, "json": legacy} {
		got, err := loadState(b)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !reflect.DeepEqual(got, s) {
			t.Errorf("%s: read back\n%+v\nwrote\n%+v", name, got, s)
		}
	}
	if empty, err := loadState(nil); err != nil || !reflect.DeepEqual(empty, &DeviceState{}) {
		t.Errorf("no state: %+v, %v", empty, err)
	}
	if _, err := loadState([]byte{0x12, 0xff}); err == nil {
		t.Error("a truncated record read without an error")
	}
}
