package analysis

import (
	"fmt"
	"strings"
	"time"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

func init() {
	register(RuleSpec{ID: RuleIPKVM, Class: ClassProof, Source: SourceReport, Weight: 3.6, Eval: ipKVM,
		Decay: Decay{Hold: 3 * 24 * time.Hour, Fade: 4 * 24 * time.Hour},
		Doc:   "an IP-KVM's USB gadget or EDID name (x1 at high confidence, x0.5 medium, x0.3 low), or an IP-KVM vendor on the LAN (x0.5): proof-grade only at high confidence"})
}

// ipKVM: an IP-KVM is attached by USB, seen as a monitor, or on the LAN.
func ipKVM(in Input) *pb.Evidence {
	r := in.Report.GetReport()
	var signs []string
	factor := 0.0
	for _, u := range r.GetPeripherals().GetUsb() {
		if u.GetFlagged() == "ip-kvm" {
			signs = append(signs, fmt.Sprintf("USB %s:%s %q %q (%s)", u.GetVendorId(), u.GetProductId(), u.GetManufacturer(), u.GetProduct(), u.GetMatchReason()))
			factor = max(factor, confidenceFactor(u.GetConfidence()))
		}
	}
	for _, d := range r.GetPeripherals().GetDisplays() {
		if d.GetFlagged() == "ip-kvm" {
			signs = append(signs, fmt.Sprintf("display %q", d.GetName()))
			factor = max(factor, 1)
		}
	}
	for _, n := range r.GetNetwork().GetNeighbors() {
		if n.GetFlaggedVendor() != "" {
			signs = append(signs, fmt.Sprintf("LAN neighbour %s %s (%s)", n.GetIp(), n.GetMac(), n.GetFlaggedVendor()))
			factor = max(factor, 0.5)
		}
	}
	if len(signs) == 0 {
		return nil
	}
	ev := in.evidence(RuleIPKVM, "IP-KVM hardware: "+strings.Join(signs, "; ")+".", map[string]string{"signs": fmt.Sprint(len(signs))})
	ev.Weight *= factor
	return ev
}

// ipKVM: an IP-KVM is attached by USB, seen as a monitor, or on the LAN.
func confidenceFactor(c string) float64 {
	switch c {
	case "high":
		return 1
	case "low":
		return 0.3
	default:
		return 0.5
	}
}
