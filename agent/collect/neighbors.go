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

// kvm_vendors.json lists the MAC blocks of IP-KVM hardware, each with its
// source. It is generated: edit kvm_vendors_curated.json and rerun.
//
//go:generate go run ./internal/kvmvendorsgen -registry /usr/share/ieee-data -curated kvm_vendors_curated.json -out kvm_vendors.json
//go:embed kvm_vendors.json
var kvmVendorsJSON []byte

// KVMVendor is one MAC block of IP-KVM hardware: an IEEE MA-L (24-bit),
// MA-M (28-bit) or MA-S (36-bit) prefix.
type KVMVendor struct {
	Prefix       string `json:"prefix"`
	Bits         int    `json:"bits"`
	Registry     string `json:"registry,omitempty"`
	Organization string `json:"organization"`
	Vendor       string `json:"vendor"`
	Confidence   string `json:"confidence"`
	Source       string `json:"source"`
}

// kvmVendorList holds the blocks by their hex digits ("305253",
// "04c98b1", ...), matched longest first.
type kvmVendorList map[string]KVMVendor

// MAC block lengths in hex digits, longest first: MA-S, MA-M, MA-L.
var blockDigits = []int{9, 7, 6}

var loadKVMVendors = sync.OnceValues(func() (kvmVendorList, error) {
	return parseKVMVendors(kvmVendorsJSON)
})

// kvmVendorsDoc is kvm_vendors.json.
type kvmVendorsDoc struct {
	Version  string `json:"version"`
	Registry struct {
		Source string `json:"source"`
		Date   string `json:"date"`
	} `json:"registry"`
	Vendors []KVMVendor `json:"vendors"`
}

func parseKVMVendorsDoc(b []byte) (*kvmVendorsDoc, error) {
	var doc kvmVendorsDoc
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("kvm vendor list: %w", err)
	}
	if doc.Version == "" || doc.Registry.Source == "" || doc.Registry.Date == "" {
		return nil, fmt.Errorf("kvm vendor list: needs a version and the registry's source and date")
	}
	return &doc, nil
}

func parseKVMVendors(b []byte) (kvmVendorList, error) {
	doc, err := parseKVMVendorsDoc(b)
	if err != nil {
		return nil, err
	}
	out := kvmVendorList{}
	for i, v := range doc.Vendors {
		hex := strings.ToLower(strings.ReplaceAll(v.Prefix, ":", ""))
		if !validBlock(hex) || v.Bits != len(hex)*4 || v.Vendor == "" || v.Source == "" {
			return nil, fmt.Errorf("kvm vendor list: entry %d (%q): needs a 24-, 28- or 36-bit prefix with its bits, a vendor and a source", i, v.Prefix)
		}
		if confidenceRank[v.Confidence] == 0 {
			return nil, fmt.Errorf("kvm vendor list: entry %d (%q): confidence %q is not low, medium or high", i, v.Prefix, v.Confidence)
		}
		if _, dup := out[hex]; dup {
			return nil, fmt.Errorf("kvm vendor list: %s listed twice", v.Prefix)
		}
		out[hex] = v
	}
	return out, nil
}

func validBlock(hex string) bool {
	if len(hex) != 6 && len(hex) != 7 && len(hex) != 9 {
		return false
	}
	for _, c := range hex {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// match looks up a MAC's block, the longest prefix first: an MA-S block
// inside another organization's MA-L belongs to the MA-S owner. Locally
// administered (randomised) MACs carry no vendor and never match.
func (l kvmVendorList) match(mac string) (KVMVendor, bool) {
	mac, ok := normalizeMAC(mac)
	if !ok || strings.IndexByte("26ae", mac[1]) >= 0 {
		return KVMVendor{}, false
	}
	hex := strings.ReplaceAll(mac, ":", "")
	for _, n := range blockDigits {
		if v, ok := l[hex[:n]]; ok {
			return v, true
		}
	}
	return KVMVendor{}, false
}
