package analysis

import (
	"errors"
	"testing"

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
