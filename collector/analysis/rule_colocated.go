package analysis

import (
	"fmt"
	"strings"
	"time"

	"github.com/farmwatch/farmwatch/collector/store"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

func init() {
	register(RuleSpec{ID: RuleColocated, Class: ClassProof, Source: SourceCluster, Weight: 3.6,
		Decay: Decay{Hold: 24 * time.Hour, Fade: 48 * time.Hour},
		Doc:   "the device is in a laptop-farm cluster with other hires' devices (x`cluster.ip_only_factor` when the cluster shares only a public IP: then a weak sign)"})
}

// colocatedNames is how many other members a device's colocation evidence
// names; the cluster view lists them all.
const colocatedNames = 25

// colocatedWeight is what farm membership weighs: less when the members
// share only a public IP.
func colocatedWeight(cfg *Config, cl *Cluster) float64 {
	w := cfg.Weights[RuleColocated]
	if cl.IPOnly {
		w *= cfg.Cluster.IPOnlyFactor
	}
	return w
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
	where := ""
	if cl.Observed != nil {
		where = " in " + cl.Observed.Place
	}
	return &pb.Evidence{Rule: RuleColocated, Weight: colocatedWeight(cfg, cl), ObservedAt: tsOf(now),
		Explanation: fmt.Sprintf("Laptop farm %s%s: %s. Shares the network with %s.", cl.ID, where, cl.Reason, strings.Join(others, "; ")),
		Facts:       map[string]string{"cluster": cl.ID, "members": fmt.Sprint(len(cl.Members))}}
}
