package collect

import (
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

func edidFixture(t *testing.T, connector string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "linux", "kvm", "sys", "class", "drm", "card0-"+connector, "edid"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseEDID(t *testing.T) {
	panel := edidFixture(t, "eDP-1")
	pikvm := edidFixture(t, "HDMI-A-1")
	badSum := append([]byte(nil), pikvm...)
	badSum[127]++
	badHeader := append([]byte(nil), pikvm...)
	badHeader[0] = 1
	withExtension := append(append([]byte(nil), pikvm...), make([]byte, 128)...)
	noLetters := append([]byte(nil), pikvm...)
	noLetters[8], noLetters[9] = 0, 0
	noLetters[127] += 0x76 + 0x41 // keep the sum at zero
	tests := []struct {
		name        string
		in          []byte
		vendor, mon string
		err         error
	}{
		{"laptop panel without 0xFC", panel, "AUO", "", nil},
		{"pikvm", pikvm, "PKV", "PiKVM V4", nil},
		{"extension block ignored", withExtension, "PKV", "PiKVM V4", nil},
		{"checksum wrong", badSum, "", "", errEDIDChecksum},
		{"bad header", badHeader, "", "", errEDIDHeader},
		{"short", pikvm[:100], "", "", errEDIDShort},
		{"empty", nil, "", "", errEDIDShort},
		{"manufacturer word zero", noLetters, "", "PiKVM V4", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, n, err := parseEDID(tt.in)
			if !errors.Is(err, tt.err) || v != tt.vendor || n != tt.mon {
				t.Errorf("got %q %q %v, want %q %q %v", v, n, err, tt.vendor, tt.mon, tt.err)
			}
		})
	}
}

func TestParseEDIDThirteenCharacterName(t *testing.T) {
	b := append([]byte(nil), edidFixture(t, "HDMI-A-1")...)
	// Descriptor 2 (offset 72) is the 0xFC one: fill all 13 bytes, no 0x0A.
	copy(b[77:90], "TinyPilot-KVM")
	var sum byte
	for _, c := range b[:127] {
		sum += c
	}
	b[127] = -sum
	if _, n, err := parseEDID(b); err != nil || n != "TinyPilot-KVM" {
		t.Errorf("%q %v", n, err)
	}
}

func TestPnpIDFromHex(t *testing.T) {
	for in, want := range map[string]string{"10ac": "DEL", "610": "APP", "0x4c2d": "SAM", "0": "", "zz": "", "1ffff": ""} {
		if got := pnpIDFromHex(in); got != want {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
}

func TestParseIoregEDIDs(t *testing.T) {
	conns, blobs := parseIoregEDIDs(readFixture(t, "darwin", "ioreg_displayconnect.txt"))
	if len(blobs) != 1 || conns[0] != "AppleDisplay" {
		t.Fatalf("%v %d", conns, len(blobs))
	}
	d, err := displayFromEDID(conns[0], blobs[0])
	if err != nil || d.GetVendor() != "PKV" || d.GetName() != "PiKVM V4" {
		t.Errorf("%v %v", d, err)
	}
	// Apple silicon's "EDID" key and a blob too short to be one.
	out := []byte("+-o dispext0  <class IOPortTransportStateDisplayPort>\n  {\n    \"EDID\" = <" +
		hex.EncodeToString(blobs[0]) + ">\n    \"Other\" = <00ff>\n  }\n+-o x <class y>\n    \"EDID\" = <00ffffff>\n")
	conns, blobs = parseIoregEDIDs(out)
	if len(blobs) != 1 || conns[0] != "dispext0" {
		t.Errorf("%v %d", conns, len(blobs))
	}
}

func TestParseSystemProfilerDisplays(t *testing.T) {
	ds, err := parseSystemProfilerDisplays(readFixture(t, "darwin", "system_profiler_displays.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 2 {
		t.Fatalf("%v", ds)
	}
	if ds[0].GetName() != "Color LCD" || ds[0].GetVendor() != "APP" || ds[0].GetConnector() != "internal" {
		t.Errorf("built-in %v", ds[0])
	}
	if ds[1].GetName() != "TinyPilot" || ds[1].GetVendor() != "TPL" {
		t.Errorf("external %v", ds[1])
	}
	if _, err := parseSystemProfilerDisplays([]byte("{")); err == nil {
		t.Error("bad json accepted")
	}
}

func TestMatchDisplay(t *testing.T) {
	cat, err := peripheralsCatalog()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, flag, conf string
	}{
		{"PiKVM", FlagIPKVM, "high"},
		{"PiKVM V4", FlagIPKVM, "high"},
		{"pikvm", FlagIPKVM, "high"},
		{"TinyPilot", FlagIPKVM, "high"},
		{"DELL U2720Q", "", ""},
		{"", "", ""},
		{"Pi", "", ""},
	}
	for _, tt := range tests {
		d := &pb.Display{Name: tt.name}
		cat.MatchDisplay(d)
		if d.GetFlagged() != tt.flag || d.GetConfidence() != tt.conf {
			t.Errorf("%q: %q %q", tt.name, d.GetFlagged(), d.GetConfidence())
		}
	}
}

// PiKVM's older kvmd EDID for the tc358743 capture bridge names the monitor
// "PI-KVM Video" (manufacturer TSB, product 0x8888): 128-byte base block and
// a CEA extension, both with correct checksums.
func TestPIKVMVideoEDID(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "linux", "edid-sysfs_debian12_kvmd-tc358743-pi-kvm-video.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != 256 {
		t.Fatalf("%d bytes", len(b))
	}
	d, err := displayFromEDID("HDMI-A-1", b)
	if err != nil {
		t.Fatal(err)
	}
	if d.GetVendor() != "TSB" || d.GetName() != "PI-KVM Video" {
		t.Fatalf("vendor %q name %q", d.GetVendor(), d.GetName())
	}
	cat, err := peripheralsCatalog()
	if err != nil {
		t.Fatal(err)
	}
	cat.MatchDisplay(d)
	if d.GetFlagged() != FlagIPKVM || d.GetConfidence() != "high" || !strings.Contains(d.GetMatchReason(), "pikvm-old-edid") {
		t.Errorf("flag %q %q %q", d.GetFlagged(), d.GetConfidence(), d.GetMatchReason())
	}
	// Ordinary Toshiba monitors share the manufacturer ID, not the name.
	tv := &pb.Display{Vendor: "TSB", Name: "TOSHIBA-TV"}
	cat.MatchDisplay(tv)
	if tv.GetFlagged() != "" {
		t.Errorf("a Toshiba TV flagged: %v", tv)
	}
}
