package collect

import (
	"strings"
	"testing"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// checkDisplay asserts a parsed display's invariants after matching: a PnP
// ID of three capital letters or nothing, printable names, and a flag only
// with a catalog display id and a known confidence.
func checkDisplay(t *testing.T, d *pb.Display) {
	t.Helper()
	cat, err := peripheralsCatalog()
	if err != nil {
		t.Fatal(err)
	}
	if v := d.GetVendor(); v != "" && (len(v) != 3 || strings.Trim(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != "") {
		t.Fatalf("vendor %q", v)
	}
	cat.MatchDisplay(d)
	if d.GetFlagged() == "" {
		if d.GetConfidence() != "" || d.GetMatchReason() != "" {
			t.Fatalf("unflagged display with %q %q", d.GetConfidence(), d.GetMatchReason())
		}
		return
	}
	if confidenceRank[d.GetConfidence()] == 0 {
		t.Fatalf("confidence %q", d.GetConfidence())
	}
	for _, e := range cat.Displays {
		if strings.Contains(d.GetMatchReason(), "("+e.ID+")") && hasPrefixFold(d.GetName(), e.NamePrefix) {
			return
		}
	}
	t.Fatalf("flag %q with reason %q names no display entry matching %q", d.GetFlagged(), d.GetMatchReason(), d.GetName())
}

// FuzzEDIDParsers feeds parseEDID and the macOS display readers (ioreg's
// EDID blobs, system_profiler SPDisplaysDataType JSON).
func FuzzEDIDParsers(f *testing.F) {
	addFixtureSeeds(f, "linux/kvm/sys/class/drm/card0-*/edid", "linux/edid-sysfs_*.bin",
		"darwin/ioreg_displayconnect.txt", "darwin/system_profiler_displays.json")
	f.Add([]byte("\x00\xff\xff\xff\xff\xff\xff\x00"))
	f.Add([]byte(`{"SPDisplaysDataType":[{"spdisplays_ndrvs":[{"_name":"PI-KVM Video","_spdisplays_display-vendor-id":"zz"}]}]}`))
	f.Add([]byte("+-o \n\"EDID\" = <00ffffffffffff00>"))
	f.Fuzz(func(t *testing.T, b []byte) {
		vendor, name, err := parseEDID(b)
		if err != nil {
			if vendor != "" || name != "" {
				t.Fatalf("error %v with %q %q", err, vendor, name)
			}
		} else {
			if len(name) > 13 || strings.IndexFunc(name, func(r rune) bool { return r < 0x20 || r > 0x7e }) >= 0 {
				t.Fatalf("name %q", name)
			}
			checkDisplay(t, &pb.Display{Vendor: vendor, Name: name})
		}
		conns, blobs := parseIoregEDIDs(b)
		if len(conns) != len(blobs) {
			t.Fatalf("%d connectors, %d blobs", len(conns), len(blobs))
		}
		for _, blob := range blobs {
			if len(blob) < 128 {
				t.Fatalf("blob of %d bytes", len(blob))
			}
		}
		if ds, err := parseSystemProfilerDisplays(b); err == nil {
			for _, d := range ds {
				checkDisplay(t, d)
			}
		}
	})
}
