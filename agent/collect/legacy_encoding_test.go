package collect

import (
	"bytes"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/farmwatch/farmwatch/agent/sanitize"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// netsh prints in the console's OEM code page: on an English Windows "Café"
// is 43 61 66 82 (code page 850), and a Chinese neighbour's network is GBK.
func TestLegacyEncodingsNetsh(t *testing.T) {
	ifs := bytes.ReplaceAll(testdataFile(t, "windows", "netsh-wlan-show-interfaces.txt"), []byte("HomeNet"), []byte("Caf\x82"))
	nets := bytes.ReplaceAll(testdataFile(t, "windows", "netsh-wlan-show-networks.txt"), []byte("HomeNet"), []byte("Caf\x82"))
	nets = bytes.ReplaceAll(nets, []byte("Neighbor 6E"), []byte("\xd6\xd0\xce\xc4"))
	w, err := windowsWifi(ifs, nets)
	if err != nil {
		t.Fatal(err)
	}
	r := &pb.Report{Network: &pb.Network{Wifi: w}}
	sanitize.Report(r)
	if _, err := proto.Marshal(r); err != nil {
		t.Fatalf("report does not marshal: %v", err)
	}
	w = r.GetNetwork().GetWifi()
	if w.GetSsid() != `Caf\x82` || w.GetNearby()[0].GetSsid() != `Caf\x82` || w.GetNearby()[2].GetSsid() != `\xd6\xd0\xce\xc4` {
		t.Errorf("SSIDs %q, nearby %v", w.GetSsid(), w.GetNearby())
	}
}

// ioreg prints a USB string descriptor's bytes as the device gave them.
func TestLegacyEncodingsIoregUSB(t *testing.T) {
	out := bytes.ReplaceAll(readFixture(t, "darwin", "ioreg_iousb.txt"), []byte("USB Optical Mouse"), []byte("Souris optique \xe0 K\xf6ln"))
	p, err := usbReport(parseIoregUSB(out))
	if err != nil {
		t.Fatal(err)
	}
	r := &pb.Report{Peripherals: p}
	sanitize.Report(r)
	if _, err := proto.Marshal(r); err != nil {
		t.Fatalf("report does not marshal: %v", err)
	}
	found := false
	for _, u := range r.GetPeripherals().GetUsb() {
		found = found || u.GetProduct() == `Souris optique \xe0 K\xf6ln`
	}
	if !found {
		t.Errorf("escaped product name not among %v", r.GetPeripherals().GetUsb())
	}
}
