package collect

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

func init() { register("neighbors", 5*time.Second, collectNeighbors) }

// collectNeighbors reports the LAN neighbour table as the OS already holds
// it: the agent sends no packet (no ARP or ping sweep), so it sees only hosts
// the laptop has talked to recently, the gateway first among them. Each MAC
// is checked against the IP-KVM vendor list.
func collectNeighbors(ctx context.Context, env *Env, r *pb.Report) error {
	ns, err := neighborTable(ctx, env)
	if err != nil {
		return err
	}
	if err := flagKVMVendors(ns); err != nil {
		return err
	}
	sortNeighbors(ns)
	if r.Network == nil {
		r.Network = &pb.Network{}
	}
	r.Network.Neighbors = ns
	return nil
}

// flagKVMVendors sets flagged_vendor and flag_confidence on neighbours
// whose MAC prefix is on the IP-KVM vendor list.
func flagKVMVendors(ns []*pb.Neighbor) error {
	vendors, err := loadKVMVendors()
	if err != nil {
		return err
	}
	for _, n := range ns {
		if v, ok := vendors.match(n.GetMac()); ok {
			n.FlaggedVendor, n.FlagConfidence = v.Vendor, v.Confidence
		}
	}
	return nil
}

// kvm_vendors.json lists the MAC prefixes of IP-KVM hardware, each with its
// source.
//
//go:embed kvm_vendors.json
var kvmVendorsJSON []byte

// KVMVendor is one MAC vendor prefix of IP-KVM hardware.
type KVMVendor struct {
	OUI          string `json:"oui"`
	Vendor       string `json:"vendor"`
	Organization string `json:"organization"`
	Confidence   string `json:"confidence"`
	Source       string `json:"source"`
}

type kvmVendorList map[string]KVMVendor // by lowercase "aa:bb:cc"

var loadKVMVendors = sync.OnceValues(func() (kvmVendorList, error) {
	return parseKVMVendors(kvmVendorsJSON)
})

func parseKVMVendors(b []byte) (kvmVendorList, error) {
	var doc struct {
		Vendors []KVMVendor `json:"vendors"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("kvm vendor list: %w", err)
	}
	out := kvmVendorList{}
	for i, v := range doc.Vendors {
		oui, ok := normalizeMAC(v.OUI + ":00:00:00")
		if !ok || v.Vendor == "" || v.Source == "" {
			return nil, fmt.Errorf("kvm vendor list: entry %d (%q): needs an OUI, a vendor and a source", i, v.OUI)
		}
		switch v.Confidence {
		case "low", "medium", "high":
		default:
			return nil, fmt.Errorf("kvm vendor list: entry %d (%q): confidence %q is not low, medium or high", i, v.OUI, v.Confidence)
		}
		oui = oui[:8]
		if _, dup := out[oui]; dup {
			return nil, fmt.Errorf("kvm vendor list: %s listed twice", oui)
		}
		v.OUI = oui
		out[oui] = v
	}
	return out, nil
}

// match looks up a normalised MAC's vendor prefix. Locally administered
// (randomised) MACs carry no vendor and never match.
func (l kvmVendorList) match(mac string) (KVMVendor, bool) {
	mac, ok := normalizeMAC(mac)
	if !ok || strings.IndexByte("26ae", mac[1]) >= 0 {
		return KVMVendor{}, false
	}
	v, ok := l[mac[:8]]
	return v, ok
}
