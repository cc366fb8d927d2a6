package collect

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func readFixture(t *testing.T, p ...string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(append([]string{"testdata"}, p...)...))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestPeripheralsCatalogEmbedded(t *testing.T) {
	c, err := peripheralsCatalog()
	if err != nil {
		t.Fatal(err)
	}
	if c.Version == "" || len(c.USB) == 0 || len(c.Displays) == 0 || len(c.Patterns) == 0 {
		t.Fatalf("catalog %q: %d usb, %d displays, %d patterns", c.Version, len(c.USB), len(c.Displays), len(c.Patterns))
	}
	for _, list := range [][]PeripheralEntry{c.USB, c.Patterns, c.Displays} {
		for _, e := range list {
			if len(e.Source) < 20 {
				t.Errorf("%s: source %q says too little", e.ID, e.Source)
			}
		}
	}
}

func TestParsePeripheralsCatalogRejects(t *testing.T) {
	tests := []struct{ name, json string }{
		{"no version", `{"usb":[]}`},
		{"unknown field", `{"version":"1","usb":[{"id":"a","flag":"ip-kvm","confidence":"low","vid":"1d6b","source":"s"}]}`},
		{"no source", `{"version":"1","usb":[{"id":"a","flag":"ip-kvm","confidence":"low","vendor_id":"1d6b"}]}`},
		{"bad flag", `{"version":"1","usb":[{"id":"a","flag":"kvm","confidence":"low","vendor_id":"1d6b","source":"s"}]}`},
		{"bad confidence", `{"version":"1","usb":[{"id":"a","flag":"ip-kvm","confidence":"certain","vendor_id":"1d6b","source":"s"}]}`},
		{"uppercase id", `{"version":"1","usb":[{"id":"a","flag":"ip-kvm","confidence":"low","vendor_id":"1D6B","source":"s"}]}`},
		{"matches nothing", `{"version":"1","usb":[{"id":"a","flag":"ip-kvm","confidence":"low","source":"s"}]}`},
		{"duplicate", `{"version":"1","usb":[{"id":"a","flag":"ip-kvm","confidence":"low","vendor_id":"1d6b","source":"s"}],
			"displays":[{"id":"a","flag":"ip-kvm","confidence":"low","name_prefix":"X","source":"s"}]}`},
		{"unknown pattern", `{"version":"1","patterns":[{"id":"p","flag":"ip-kvm","confidence":"low","pattern":"x","source":"s"}]}`},
		{"display by vendor id", `{"version":"1","displays":[{"id":"d","flag":"ip-kvm","confidence":"low","name_prefix":"X","vendor_id":"1d6b","source":"s"}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := parsePeripheralsCatalog([]byte(tt.json)); err == nil {
				t.Error("accepted")
			}
		})
	}
}

var (
	hidKeyboard = usbInterface{0x03, 0x01, 0x01}
	hidMouse    = usbInterface{0x03, 0x01, 0x02}
	hidOther    = usbInterface{0x03, 0x00, 0x00}
	massStorage = usbInterface{0x08, 0x06, 0x50}
)

func TestMatchUSB(t *testing.T) {
	cat, err := peripheralsCatalog()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		dev        usbDevice
		flag, conf string
		reason     []string // substrings of match_reason
	}{
		{"pikvm defaults", usbDevice{VendorID: "1d6b", ProductID: "0104", Manufacturer: "PiKVM",
			Product: "Composite KVM Device", Serial: "CAFEBABE", Interfaces: []usbInterface{hidKeyboard, hidOther, massStorage}},
			FlagIPKVM, "high", []string{"pikvm-manufacturer", "linux-composite-gadget", "default serial CAFEBABE", "kvm-composite-interfaces"}},
		{"bare composite gadget ID", usbDevice{VendorID: "1d6b", ProductID: "0104", Product: "My Gadget"},
			FlagIPKVM, "medium", []string{"id 1d6b:0104 (linux-composite-gadget)"}},
		{"gadget ID and default serial", usbDevice{VendorID: "1d6b", ProductID: "0104", Serial: "cafebabe"},
			FlagIPKVM, "high", []string{"kvmd-default-serial-gadget"}},
		{"default serial on changed IDs", usbDevice{VendorID: "046d", ProductID: "c077", Serial: "CAFEBABE"},
			FlagIPKVM, "medium", []string{"kvmd-default-serial"}},
		{"tinypilot lowercase manufacturer", usbDevice{VendorID: "1d6b", ProductID: "0104", Manufacturer: "tinypilot",
			Product: "Multifunction USB Device", Serial: "6b65796d696d6570690"}, FlagIPKVM, "high", []string{"tinypilot-serial"}},
		{"tinypilot product without the gadget vendor", usbDevice{VendorID: "0781", ProductID: "5581", Product: "Multifunction USB Device"},
			"", "", nil},
		{"jetkvm without serial", usbDevice{VendorID: "1d6b", ProductID: "0104", Manufacturer: "JetKVM", Product: "USB Emulation Device"},
			FlagIPKVM, "high", []string{"jetkvm-manufacturer"}},
		{"glkvm case-insensitive", usbDevice{VendorID: "1d6b", ProductID: "0104", Manufacturer: "glkvm"},
			FlagIPKVM, "high", []string{"glkvm-manufacturer"}},
		{"names with padding", usbDevice{VendorID: "abcd", ProductID: "0001", Manufacturer: " PiKVM "},
			FlagIPKVM, "high", []string{"pikvm-manufacturer"}},
		{"jiggler by name", usbDevice{VendorID: "1234", ProductID: "0001", Product: "USB Mouse Jiggler"},
			FlagJiggler, "high", []string{"mouse-jiggler-name"}},
		{"mouse mover", usbDevice{VendorID: "1234", ProductID: "0002", Manufacturer: "Generic", Product: "Mouse Mover"},
			FlagJiggler, "medium", []string{"mouse-mover-name"}},
		{"keyboard+pointer+storage only", usbDevice{VendorID: "abcd", ProductID: "1234",
			Interfaces: []usbInterface{hidKeyboard, hidMouse, massStorage}}, FlagIPKVM, "low", []string{"kvm-composite-interfaces"}},
		{"keyboard and mouse receiver", usbDevice{VendorID: "046d", ProductID: "c52b", Manufacturer: "Logitech",
			Product: "USB Receiver", Interfaces: []usbInterface{hidKeyboard, hidMouse, hidOther}}, "", "", nil},
		{"two keyboards and storage", usbDevice{VendorID: "abcd", ProductID: "1235",
			Interfaces: []usbInterface{hidKeyboard, hidKeyboard, massStorage}}, FlagIPKVM, "low", nil},
		{"ordinary mouse", usbDevice{VendorID: "046d", ProductID: "c077", Manufacturer: "Logitech", Product: "USB Optical Mouse",
			Interfaces: []usbInterface{hidMouse}}, "", "", nil},
		{"no names at all", usbDevice{VendorID: "05ac", ProductID: "8290"}, "", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := cat.MatchUSB(tt.dev)
			if got.GetFlagged() != tt.flag || got.GetConfidence() != tt.conf {
				t.Errorf("flag %q confidence %q (%s), want %q %q", got.GetFlagged(), got.GetConfidence(),
					got.GetMatchReason(), tt.flag, tt.conf)
			}
			for _, r := range tt.reason {
				if !strings.Contains(got.GetMatchReason(), r) {
					t.Errorf("reason %q lacks %q", got.GetMatchReason(), r)
				}
			}
			// Only a catalog's public default serial may be named.
			if tt.dev.Serial != "" && !catalogSerial(cat, tt.dev.Serial) && strings.Contains(got.String(), tt.dev.Serial) {
				t.Errorf("the device serial leaks into %v", got)
			}
			if got.GetVendorId() != tt.dev.VendorID || got.GetProductId() != tt.dev.ProductID {
				t.Errorf("ids %s:%s", got.GetVendorId(), got.GetProductId())
			}
		})
	}
}

func catalogSerial(c *PeripheralsCatalog, s string) bool {
	for _, e := range c.USB {
		if e.Serial != "" && strings.EqualFold(e.Serial, s) {
			return true
		}
	}
	return false
}

func TestUSBSerialNeverReported(t *testing.T) {
	cat, err := peripheralsCatalog()
	if err != nil {
		t.Fatal(err)
	}
	got := cat.MatchUSB(usbDevice{VendorID: "1d6b", ProductID: "0104", Manufacturer: "PiKVM", Serial: "SECRET-1234"})
	if strings.Contains(got.String(), "SECRET") {
		t.Errorf("serial leaked: %v", got)
	}
}

func TestKVMInterfaces(t *testing.T) {
	// The second boot keyboard counts as "another HID interface": the
	// pattern wants a keyboard, one more HID and storage, as kvmd's
	// keyboard + (absolute or relative) mouse.
	if !kvmInterfaces([]usbInterface{hidKeyboard, hidKeyboard, massStorage}) {
		t.Error("keyboard+HID+storage not recognised")
	}
	if kvmInterfaces([]usbInterface{hidKeyboard, massStorage}) {
		t.Error("keyboard+storage recognised")
	}
}

func TestFormatUSBID(t *testing.T) {
	tests := []struct {
		in      string
		decimal bool
		want    string
	}{
		{"1d6b", false, "1d6b"},
		{"1D6B", false, "1d6b"},
		{"0x1D6B", false, "1d6b"},
		{"7531", true, "1d6b"}, // ioreg's decimal idVendor
		{"260", true, "0104"},
		{"0x0104", true, "0104"}, // a 0x prefix wins over decimal
		{"5ac", false, "05ac"},
		{"65535", true, "ffff"},
		{"65536", true, ""},
		{"1d6b", true, ""},
		{"", false, ""},
		{"xyz", false, ""},
		{"123456", false, ""},
	}
	for _, tt := range tests {
		if got := formatUSBID(tt.in, tt.decimal); got != tt.want {
			t.Errorf("formatUSBID(%q, %v) = %q, want %q", tt.in, tt.decimal, got, tt.want)
		}
	}
}

func TestParseIoregUSB(t *testing.T) {
	got := parseIoregUSB(readFixture(t, "darwin", "ioreg_iousb.txt"))
	want := []usbDevice{
		{VendorID: "1d6b", ProductID: "0104", Manufacturer: "GLKVM", Product: "Composite KVM Device", Serial: "CAFEBABE",
			Interfaces: []usbInterface{{0xe0, 0x01, 0x03}, {0x0a, 0, 0}, {0x03, 0x01, 0x01}, {0x03, 0, 0}, {0x08, 0x06, 0x50}}},
		{VendorID: "046d", ProductID: "c077", Manufacturer: "Logitech", Product: "USB Optical Mouse",
			Interfaces: []usbInterface{{0x03, 0x01, 0x02}}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
	p, err := usbReport(got)
	if err != nil {
		t.Fatal(err)
	}
	if u := p.GetUsb(); len(u) != 2 || u[1].GetFlagged() != FlagIPKVM || u[1].GetConfidence() != "high" || u[0].GetFlagged() != "" {
		t.Errorf("report %v", u)
	}
}

func TestSignatureInterfaces(t *testing.T) {
	tests := []struct {
		name, sig, serial string
		want              []usbInterface
	}{
		{"with serial", "6b1d040100014341464542414245000000030101", "CAFEBABE", []usbInterface{hidKeyboard}},
		{"no serial", "6d0477c00073000000030102", "", []usbInterface{hidMouse}},
		{"serial mismatch", "6b1d040100014341464542414245000000030101", "DEADBEEF", nil},
		{"ragged tail", "6d0477c000730000000301", "", nil},
		{"not hex", "zz", "", nil},
		{"too short", "6d04", "", nil},
		{"no interfaces", "6d0477c00073000000", "", nil},
	}
	for _, tt := range tests {
		if got := signatureInterfaces(tt.sig, tt.serial); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestParseSystemProfilerUSB(t *testing.T) {
	tests := []struct {
		file string
		want []usbDevice
	}{
		{"system_profiler_usb_sequoia.json", []usbDevice{
			{VendorID: "154b", ProductID: "1006", Manufacturer: "PNY", Product: "USB 3.2.1 FD", Serial: "071C4270DA11F516"},
			{VendorID: "05ac", ProductID: "8290", Manufacturer: "Broadcom Corp.", Product: "Bluetooth USB Host Controller"},
			{VendorID: "05e3", ProductID: "0610", Manufacturer: "GenesysLogic", Product: "USB2.0 Hub"},
			{VendorID: "1d6b", ProductID: "0104", Manufacturer: "tinypilot", Product: "Multifunction USB Device", Serial: "6b65796d696d6570690"},
		}},
		{"system_profiler_usb_tahoe.json", []usbDevice{
			{VendorID: "2109", ProductID: "2822", Manufacturer: "VIA Labs, Inc.", Product: "USB2.0 Hub"},
			{VendorID: "1d6b", ProductID: "0104", Manufacturer: "JetKVM", Product: "USB Emulation Device"},
			{VendorID: "1234", ProductID: "0001", Product: "Mouse Jiggler"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			got, err := parseSystemProfilerUSB(readFixture(t, "darwin", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
	if _, err := parseSystemProfilerUSB([]byte("not json")); err == nil {
		t.Error("bad json accepted")
	}
}

// loadPnputil reads the pnputil /enum-devices /ids fixture into the values
// the Windows reader gets from SetupAPI. pnputil's Device Description is
// the INF's; the reader prefers the bus-reported one (see usb_windows.go).
func loadPnputil(t *testing.T, b []byte) []winUSBEntry {
	t.Helper()
	var out []winUSBEntry
	var cur *winUSBEntry
	field := ""
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" {
			continue
		}
		if !strings.HasPrefix(line, " ") {
			k, v, ok := strings.Cut(line, ":")
			if !ok {
				continue
			}
			field, v = k, strings.TrimSpace(v)
			switch field {
			case "Instance ID":
				out = append(out, winUSBEntry{InstanceID: v})
				cur = &out[len(out)-1]
			case "Device Description":
				cur.Product = v
			case "Compatible IDs":
				cur.CompatibleID = append(cur.CompatibleID, v)
			}
			continue
		}
		if field == "Compatible IDs" && cur != nil {
			cur.CompatibleID = append(cur.CompatibleID, strings.TrimSpace(line))
		}
	}
	return out
}

func TestWindowsUSBDevices(t *testing.T) {
	entries := loadPnputil(t, readFixture(t, "windows", "pnputil_usb_connected_ids.txt"))
	if len(entries) != 9 {
		t.Fatalf("%d entries from the fixture", len(entries))
	}
	got := windowsUSBDevices(entries)
	want := []usbDevice{
		{VendorID: "1d6b", ProductID: "0104", Product: "USB Composite Device", Serial: "CAFEBABE",
			Interfaces: []usbInterface{{0xe0, 0x01, 0x03}, hidKeyboard, hidOther, massStorage}},
		// The last part 6&2B1E1A0C&0&3 holds '&': a location, not a serial.
		{VendorID: "046d", ProductID: "c52b", Product: "USB Composite Device", Interfaces: []usbInterface{hidKeyboard, hidMouse}},
		{VendorID: "0bda", ProductID: "8153", Product: "Realtek USB GbE Family Controller", Serial: "000001",
			Interfaces: []usbInterface{{0xff, 0xff, 0x00}}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
	p, err := usbReport(got)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range p.GetUsb() {
		if u.GetVendorId() == "1d6b" && (u.GetFlagged() != FlagIPKVM || u.GetConfidence() != "high") {
			t.Errorf("comet gadget %v", u)
		}
		if u.GetVendorId() != "1d6b" && u.GetFlagged() != "" {
			t.Errorf("flagged %v", u)
		}
	}
}

func TestParseUSBInstanceID(t *testing.T) {
	tests := []struct {
		id, vid, pid, last string
		mi, ok             bool
	}{
		{`USB\VID_1D6B&PID_0104\CAFEBABE`, "1d6b", "0104", "CAFEBABE", false, true},
		{`USB\VID_1D6B&PID_0104&MI_04\9&9f4824e&0&0004`, "1d6b", "0104", "9&9f4824e&0&0004", true, true},
		{`usb\vid_046d&pid_c52b\6&2b1e1a0c&0&3`, "046d", "c52b", "6&2b1e1a0c&0&3", false, true},
		{`USB\ROOT_HUB30\4&1b2c3d4e&0&0`, "", "", "", false, false},
		{`USBSTOR\CDROM&VEN_GLINET&PROD_FLASH_DRIVE&REV_1.00\A&24467633&0&CAFEBABE&0`, "", "", "", false, false},
		{`USB\VID_1D6B&PID_0104`, "", "", "", false, false},
	}
	for _, tt := range tests {
		vid, pid, mi, last, ok := parseUSBInstanceID(tt.id)
		if vid != tt.vid || pid != tt.pid || mi != tt.mi || last != tt.last || ok != tt.ok {
			t.Errorf("%s: %q %q %v %q %v", tt.id, vid, pid, mi, last, ok)
		}
	}
}

func TestUSBClassFromCompatible(t *testing.T) {
	tests := []struct {
		ids  []string
		want usbInterface
		ok   bool
	}{
		{[]string{`USB\Class_03&SubClass_01&Prot_02`, `USB\Class_03`}, hidMouse, true},
		{[]string{`USB\COMPOSITE`, `USB\DevClass_00&SubClass_00&Prot_00`}, usbInterface{}, true},
		{[]string{`USB\Class_03&SubClass_01`, `USB\Class_03`}, usbInterface{}, false},
		{[]string{`USB\Class_ZZ&SubClass_01&Prot_01`}, usbInterface{}, false},
		{nil, usbInterface{}, false},
	}
	for _, tt := range tests {
		got, ok := usbClassFromCompatible(tt.ids)
		if got != tt.want || ok != tt.ok {
			t.Errorf("%v: %v %v", tt.ids, got, ok)
		}
	}
}

func TestUSBReportSortsAndCarriesVersion(t *testing.T) {
	p, err := usbReport([]usbDevice{{VendorID: "ffff", ProductID: "0001"}, {VendorID: "0001", ProductID: "0002"}})
	if err != nil {
		t.Fatal(err)
	}
	if p.GetCatalogVersion() == "" || p.GetUsb()[0].GetVendorId() != "0001" {
		t.Errorf("%v", p)
	}
}
