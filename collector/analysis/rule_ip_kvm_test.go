package analysis

import (
	"testing"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

func TestHardware(t *testing.T) {
	kvm := func(conf string) func(*Input) {
		return func(i *Input) {
			i.Report.Report.Peripherals = &pb.Peripherals{Usb: []*pb.USBDevice{{VendorId: "1d6b", ProductId: "0104", Manufacturer: "PiKVM",
				Product: "Composite KVM Device", Flagged: "ip-kvm", Confidence: conf, MatchReason: "manufacturer PiKVM"}}}
		}
	}
	hi := fires(t, "PiKVM", ipKVM, in(kvm("high")), true)
	med := fires(t, "generic gadget", ipKVM, in(kvm("medium")), true)
	if hi != nil && med != nil && !(hi.GetWeight() > med.GetWeight()) {
		t.Errorf("high-confidence KVM weight %.2f not above medium %.2f", hi.GetWeight(), med.GetWeight())
	}
	fires(t, "jiggler", jiggler, in(func(i *Input) {
		i.Report.Report.Peripherals = &pb.Peripherals{Usb: []*pb.USBDevice{{Flagged: "jiggler", Product: "Mouse Jiggler"}}}
	}), true)
	fires(t, "plain mouse", ipKVM, in(func(i *Input) {
		i.Report.Report.Peripherals = &pb.Peripherals{Usb: []*pb.USBDevice{{VendorId: "046d", ProductId: "c077"}}}
	}), false)
	fires(t, "KVM on the LAN", ipKVM, in(func(i *Input) {
		i.Report.Report.Network = &pb.Network{Neighbors: []*pb.Neighbor{{Ip: "192.168.1.50", Mac: "30:52:53:00:00:01", FlaggedVendor: "JetKVM"}}}
	}), true)
}
