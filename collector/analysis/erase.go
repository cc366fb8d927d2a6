package analysis

import (
	"slices"
	"time"

	"github.com/farmwatch/farmwatch/collector/store"
)

// Forget takes erased devices out of the analysis. Their fingerprint index
// entries must be gone already (store.Tx.DeleteFingerprints): each cluster
// that holds one then drops their links as if they had expired, splits or
// dissolves as the links left allow, and refreshes its farm alert. It
// returns the clusters changed.
func (e *Engine) Forget(tx *store.Tx, devices []string, now time.Time) (int, error) {
	cfg := e.Config()
	cls, err := Clusters(tx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, cl := range cls {
		held := false
		for m := range cl.Members {
			held = held || slices.Contains(devices, m)
		}
		if !held {
			continue
		}
		if err := e.expireCluster(tx, &cfg, cl, now); err != nil {
			return n, err
		}
		n++
	}
	e.states.mu.Lock()
	for _, d := range devices {
		delete(e.states.m, d)
	}
	e.states.mu.Unlock()
	return n, nil
}
