package collect

import (
	"strings"
	"testing"
)

// checkUSBReport asserts what a report built from parsed devices must hold:
// IDs are 4 lowercase hex digits or empty, a flag only with a catalog id in
// the reason, a confidence of low/medium/high exactly when flagged, and no
// device serial other than a catalog default.
func checkUSBReport(t *testing.T, devs []usbDevice) {
	t.Helper()
	cat, err := peripheralsCatalog()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range devs {
		for _, id := range []string{d.VendorID, d.ProductID} {
			if id != "" && normalizeUSBID(id) != id {
				t.Fatalf("USB ID %q not normalized", id)
			}
		}
		u := cat.MatchUSB(d)
		if (u.GetFlagged() == "") != (u.GetConfidence() == "") || (u.GetFlagged() == "") != (u.GetMatchReason() == "") {
			t.Fatalf("flag %q confidence %q reason %q", u.GetFlagged(), u.GetConfidence(), u.GetMatchReason())
		}
		if u.GetFlagged() == "" {
			continue
		}
		if u.GetFlagged() != FlagIPKVM && u.GetFlagged() != FlagJiggler {
			t.Fatalf("flag %q", u.GetFlagged())
		}
		if confidenceRank[u.GetConfidence()] == 0 {
			t.Fatalf("confidence %q", u.GetConfidence())
		}
		named := false
		for id := range cat.byID {
			if strings.Contains(u.GetMatchReason(), "("+id+")") {
				named = true
			}
		}
		if !named {
			t.Fatalf("reason %q names no catalog entry", u.GetMatchReason())
		}
		if s := strings.TrimSpace(d.Serial); len(s) > 3 && !catalogSerial(cat, s) && strings.Contains(u.GetMatchReason(), s) &&
			!strings.Contains(d.Manufacturer+d.Product, s) {
			t.Fatalf("serial %q leaks into %q", s, u.GetMatchReason())
		}
	}
}

// FuzzUSBParsers feeds the USB parsers of every OS: ioreg's IOUSB plane,
// system_profiler's SPUSBDataType/SPUSBHostDataType JSON, and Windows
// instance IDs (USB and USBSTOR, one per line) folded into devices.
func FuzzUSBParsers(f *testing.F) {
	addFixtureSeeds(f, "darwin/ioreg_iousb.txt", "darwin/ioreg-p-IOUSB-l-w0_*.txt",
		"darwin/system_profiler_usb_*.json", "darwin/system_profiler-SPUSBDataType-json_*.json",
		"windows/instance-ids_*.txt", "windows/pnputil*.txt")
	f.Add([]byte(`USBSTOR\&Ven_&Prod_\&`))
	f.Add([]byte("USB\\VID_1D6B&PID_0104&MI_\\x\nUSBSTOR\\CdRom&Ven_PiKVM\\1&0"))
	f.Add([]byte(`{"SPUSBDataType":[{"_items":[{"vendor_id":"0x3346","product_id":"0x1009","_items":"x"}]}]}`))
	f.Add([]byte("+-o X\n\"idVendor\" = 99999999\n\"UsbDeviceSignature\" = <zz>"))
	f.Fuzz(func(t *testing.T, b []byte) {
		checkUSBReport(t, parseIoregUSB(b))
		if devs, err := parseSystemProfilerUSB(b); err == nil {
			checkUSBReport(t, devs)
		}
		var entries []winUSBEntry
		lines := strings.Split(strings.ReplaceAll(string(b), "\r", ""), "\n")
		for i, l := range lines {
			e := winUSBEntry{InstanceID: strings.TrimSpace(l), Product: l, CompatibleID: lines}
			if i > 0 {
				e.Parent = strings.TrimSpace(lines[i-1])
			}
			if st, ok := parseUSBSTORInstanceID(e.InstanceID); ok {
				if st.Kind == "" || (st.Vendor == "" && st.Product == "") || strings.Contains(st.Kind, "_") {
					t.Fatalf("USBSTOR %q parsed to %+v", e.InstanceID, st)
				}
			}
			entries = append(entries, e)
		}
		devs := windowsUSBDevices(entries)
		if len(devs) > len(entries) {
			t.Fatalf("%d devices from %d entries", len(devs), len(entries))
		}
		checkUSBReport(t, devs)
	})
}
