package collect

import (
	"bufio"
	"bytes"
	"fmt"
	"reflect"
	"strings"
	"testing"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// summarizeUSB prints a report's USB devices one a line for comparison.
func summarizeUSB(us []*pb.USBDevice) string {
	var lines []string
	for _, u := range us {
		lines = append(lines, fmt.Sprintf("%s:%s %s/%s %s %s", u.GetVendorId(), u.GetProductId(),
			u.GetManufacturer(), u.GetProduct(), u.GetFlagged(), u.GetConfidence()))
	}
	return strings.Join(lines, "\n")
}

func TestMatchUSBNewSignatures(t *testing.T) {
	cat, err := peripheralsCatalog()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		dev        usbDevice
		flag, conf string
		reason     string
	}{
		{"nanokvm defaults", usbDevice{VendorID: "3346", ProductID: "1009", Manufacturer: "sipeed", Product: "NanoKVM"},
			FlagIPKVM, "high", "nanokvm-id"},
		{"nanokvm with changed IDs keeps its name", usbDevice{VendorID: "046d", ProductID: "c31c", Product: "NanoKVM"},
			FlagIPKVM, "high", "nanokvm-name"},
		{"nanokvm ID only (Windows, no strings)", usbDevice{VendorID: "3346", ProductID: "1009"},
			FlagIPKVM, "high", "nanokvm-id"},
		{"nanokvm older firmware", usbDevice{VendorID: "abcd", ProductID: "0001", Manufacturer: "flyingrtx", Product: "licheervnano"},
			FlagIPKVM, "high", "nanokvm-flyingrtx"},
		{"licheervnano board alone", usbDevice{VendorID: "abcd", ProductID: "0001", Product: "licheervnano"},
			FlagIPKVM, "low", "licheervnano-product"},
		{"licheervnano board image defaults", usbDevice{VendorID: "abcd", ProductID: "0001", Manufacturer: "sipeed", Product: "licheervnano"},
			FlagIPKVM, "medium", "sipeed-manufacturer"},
		{"blikvm", usbDevice{VendorID: "1493", ProductID: "1572", Manufacturer: "BliKVM"},
			FlagIPKVM, "high", "blikvm-manufacturer"},
		{"blikvm ID only", usbDevice{VendorID: "1493", ProductID: "1572"}, FlagIPKVM, "medium", "blikvm-id"},
		{"blikvm on the gadget ID", usbDevice{VendorID: "1d6b", ProductID: "0104", Manufacturer: "BliKVM"},
			FlagIPKVM, "high", "blikvm-manufacturer"},
		{"aurga on the gadget ID", usbDevice{VendorID: "1d6b", ProductID: "0104", Manufacturer: "Aurga"},
			FlagIPKVM, "high", "aurga-manufacturer"},
		// Windows shows no manufacturer; a PiKVM with its serial changed
		// keeps kvmd's product string.
		{"pikvm product on Windows, serial changed", usbDevice{VendorID: "1d6b", ProductID: "0104",
			Product: "PiKVM Composite Device", Serial: "PKV41022"}, FlagIPKVM, "high", "pikvm-product"},
		{"mousewiggler ch552", usbDevice{VendorID: "16c0", ProductID: "27da", Manufacturer: "wagiminator", Product: "MouseWiggler"},
			FlagJiggler, "high", "ch552-mousewiggler"},
		{"mousewiggler ch32v003 renamed", usbDevice{VendorID: "1209", ProductID: "c003", Manufacturer: "wagiminator", Product: "Mouse"},
			FlagJiggler, "high", "ch32v003-mousewiggler"},
		{"v-usb shared mouse ID alone", usbDevice{VendorID: "16c0", ProductID: "27da", Product: "Mouse"},
			FlagJiggler, "low", "vusb-shared-mouse-id"},
		{"suunto watch is not blikvm", usbDevice{VendorID: "1493", ProductID: "0010", Manufacturer: "Suunto", Product: "Bluebird"},
			"", "", ""},
		{"sandisk virtual disk is not a kvm", usbDevice{VendorID: "0781", ProductID: "5581",
			Storage: []usbStorage{{Kind: "Disk", Vendor: "SanDisk", Product: "Ultra"}}}, "", "", ""},
		{"pikvm virtual media under imported IDs", usbDevice{VendorID: "046d", ProductID: "c31c",
			Storage: []usbStorage{{Kind: "CdRom", Vendor: "PiKVM", Product: "Optical Drive"}}}, FlagIPKVM, "high", "pikvm-virtual-media"},
		{"glkvm virtual media", usbDevice{VendorID: "1d6b", ProductID: "0104", Serial: "CAFEBABE",
			Storage: []usbStorage{{Kind: "CDROM", Vendor: "GLINET", Product: "FLASH DRIVE"}}}, FlagIPKVM, "high", "glkvm-virtual-media"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := cat.MatchUSB(tt.dev)
			if got.GetFlagged() != tt.flag || got.GetConfidence() != tt.conf || !strings.Contains(got.GetMatchReason(), tt.reason) {
				t.Errorf("flag %q confidence %q (%s), want %q %q with %s", got.GetFlagged(), got.GetConfidence(),
					got.GetMatchReason(), tt.flag, tt.conf, tt.reason)
			}
			if tt.dev.Serial != "" && !catalogSerial(cat, tt.dev.Serial) && strings.Contains(got.String(), tt.dev.Serial) {
				t.Errorf("the device serial leaks into %v", got)
			}
		})
	}
}

func TestParseIoregUSBNanoKVMAndWiggler(t *testing.T) {
	devs := parseIoregUSB(readFixture(t, "darwin", "ioreg-p-IOUSB-l-w0_14-sonoma_nanokvm-mousewiggler.txt"))
	want := []usbDevice{
		{VendorID: "3346", ProductID: "1009", Manufacturer: "sipeed", Product: "NanoKVM", Serial: "0123456789ABCDEF",
			Interfaces: []usbInterface{hidKeyboard, hidMouse, {0x03, 0x00, 0x02}, massStorage}},
		{VendorID: "16c0", ProductID: "27da", Manufacturer: "wagiminator", Product: "MouseWiggler", Serial: "CH552E",
			Interfaces: []usbInterface{hidMouse}},
	}
	if !reflect.DeepEqual(devs, want) {
		t.Fatalf("got  %+v\nwant %+v", devs, want)
	}
	p, err := usbReport(devs)
	if err != nil {
		t.Fatal(err)
	}
	if got := summarizeUSB(p.GetUsb()); got != "16c0:27da wagiminator/MouseWiggler jiggler high\n3346:1009 sipeed/NanoKVM ip-kvm high" {
		t.Errorf("report\n%s", got)
	}
}

func TestParseSystemProfilerUSBKVMs(t *testing.T) {
	devs, err := parseSystemProfilerUSB(readFixture(t, "darwin", "system_profiler-SPUSBDataType-json_15-sequoia_pikvm-nanokvm-wiggler.json"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := usbReport(devs)
	if err != nil {
		t.Fatal(err)
	}
	want := "1209:c003 wagiminator/MouseWiggler jiggler high\n" +
		"1d6b:0104 PiKVM/PiKVM Composite Device ip-kvm high\n" +
		"3346:1009 sipeed/NanoKVM ip-kvm high"
	if got := summarizeUSB(p.GetUsb()); got != want {
		t.Errorf("report\n%s\nwant\n%s", got, want)
	}
}

// loadPnputilRelations reads `pnputil /enum-devices /connected /ids
// /relations` into SetupAPI entries: the Parent line is DEVPKEY_Device_Parent.
func loadPnputilRelations(t *testing.T, b []byte) []winUSBEntry {
	t.Helper()
	entries := loadPnputil(t, b)
	i := -1
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimRight(sc.Text(), "\r"), ":")
		if !ok || strings.HasPrefix(k, " ") {
			continue
		}
		switch k {
		case "Instance ID":
			i++
		case "Parent":
			entries[i].Parent = strings.TrimSpace(v)
		}
	}
	return entries
}

func TestWindowsUSBSTORChildren(t *testing.T) {
	entries := loadPnputilRelations(t, readFixture(t, "windows",
		"pnputil-enum-devices-connected-ids-relations_11-24H2_kvm-usbstor-children.txt"))
	if len(entries) != 10 {
		t.Fatalf("%d entries", len(entries))
	}
	devs := windowsUSBDevices(entries)
	var storage []string
	for _, d := range devs {
		for _, s := range d.Storage {
			storage = append(storage, fmt.Sprintf("%s:%s %s|%s|%s|%s", d.VendorID, d.ProductID, s.Kind, s.Vendor, s.Product, s.Revision))
		}
	}
	wantStorage := []string{
		"046d:c31c CdRom|PiKVM|Optical Drive|1.00",
		"3346:1009 Disk|NanoKVM|USB Mass Storage|0520",
		"0781:5581 Disk|SanDisk|Ultra|1.00",
	}
	if strings.Join(storage, "\n") != strings.Join(wantStorage, "\n") {
		t.Errorf("storage\n%s\nwant\n%s", strings.Join(storage, "\n"), strings.Join(wantStorage, "\n"))
	}
	p, err := usbReport(devs)
	if err != nil {
		t.Fatal(err)
	}
	// The PiKVM took a Logitech keyboard's IDs (kvmd-otgconf
	// --import-usb-ids) and a new serial: only its virtual media tells.
	want := "046d:c31c /USB Composite Device ip-kvm high\n" +
		"0781:5581 /USB Mass Storage Device  \n" +
		"3346:1009 /USB Composite Device ip-kvm high"
	if got := summarizeUSB(p.GetUsb()); got != want {
		t.Errorf("report\n%s\nwant\n%s", got, want)
	}
	if r := p.GetUsb()[0].GetMatchReason(); !strings.Contains(r, `virtual media "CdRom PiKVM Optical Drive" (pikvm-virtual-media)`) {
		t.Errorf("reason %q", r)
	}
}

func TestWindowsUSBSTOROrphan(t *testing.T) {
	devs := windowsUSBDevices([]winUSBEntry{{
		InstanceID: `USBSTOR\CdRom&Ven_GLINET&Prod_Flash_Drive&Rev_1.00\7&1c6f0b4e&0&CAFEBABE&0`,
		Parent:     `USB\ROOT_HUB30\4&1b2c3d4e&0&0`,
	}})
	p, err := usbReport(devs)
	if err != nil {
		t.Fatal(err)
	}
	if got := summarizeUSB(p.GetUsb()); got != ": /GLINET Flash Drive ip-kvm high" {
		t.Errorf("report %s", got)
	}
}

func TestParseUSBSTORInstanceID(t *testing.T) {
	lines := strings.Split(strings.TrimSpace(strings.ReplaceAll(string(readFixture(t, "windows",
		"instance-ids_10-22H2_usbstor-and-usb.txt")), "\r", "")), "\n")
	want := []struct {
		st usbStorage
		ok bool
	}{
		{usbStorage{"CdRom", "GLINET", "Flash Drive", "1.00"}, true},
		{usbStorage{"CDROM", "GLINET", "FLASH DRIVE", "1.00"}, true},
		{usbStorage{"CdRom", "PiKVM", "Optical Drive", "1.00"}, true},
		{usbStorage{"Disk", "PiKVM", "Flash Drive", "1.00"}, true},
		{usbStorage{"Disk", "NanoKVM", "USB Mass Storage", "0520"}, true},
		{usbStorage{"Disk", "SanDisk", "Ultra", "1.00"}, true},
		{usbStorage{"Disk", "", "USB DISK 2.0", "PMAP"}, true},
		{usbStorage{"Other", "Generic", "Mass-Storage", "1.11"}, true},
		{usbStorage{}, false},
		{usbStorage{}, false},
	}
	if len(lines) != len(want) {
		t.Fatalf("%d lines", len(lines))
	}
	for i, id := range lines {
		st, ok := parseUSBSTORInstanceID(id)
		if st != want[i].st || ok != want[i].ok {
			t.Errorf("%s: %+v %v, want %+v %v", id, st, ok, want[i].st, want[i].ok)
		}
	}
	for _, bad := range []string{``, `USBSTOR`, `USBSTOR\\x`, `USBSTOR\Disk\`, `USBSTOR\Ven_X&Prod_Y\1&0`, `USBSTOR\Disk&Rev_1\1&0`} {
		if st, ok := parseUSBSTORInstanceID(bad); ok {
			t.Errorf("%q accepted: %+v", bad, st)
		}
	}
}
