package collect

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCollectFixtureKVM runs the peripherals, power and activity collectors
// on the kvm fixture root: a laptop with a PiKVM and a JetKVM plugged in, a
// PiKVM capture EDID on HDMI, on AC with the lid closed.
func TestCollectFixtureKVM(t *testing.T) {
	env := fixtureEnv(t, "kvm", january)
	env.Command = func(_ context.Context, name string, args ...string) ([]byte, error) {
		if name != "loginctl" || len(args) == 0 {
			return nil, fmt.Errorf("%s: no captured output", name)
		}
		switch args[0] {
		case "list-sessions":
			return os.ReadFile(filepath.Join("testdata", "linux", "loginctl", "list-sessions.txt"))
		case "show-session":
			return os.ReadFile(filepath.Join("testdata", "linux", "loginctl", "show-session.txt"))
		}
		return nil, fmt.Errorf("loginctl %s: no captured output", args[0])
	}
	r := Collect(context.Background(), env, Options{Only: []string{"usb", "displays", "power", "activity"}})
	if len(r.GetErrors()) != 0 {
		t.Fatalf("errors: %v", r.GetErrors())
	}
	p := r.GetPeripherals()
	if p.GetCatalogVersion() == "" {
		t.Error("no catalog version")
	}
	var summary []string
	for _, u := range p.GetUsb() {
		summary = append(summary, fmt.Sprintf("%s:%s %s/%s %s %s", u.GetVendorId(), u.GetProductId(),
			u.GetManufacturer(), u.GetProduct(), u.GetFlagged(), u.GetConfidence()))
		if strings.Contains(u.String(), "0000:00:14.0") {
			t.Errorf("root hub reported: %v", u)
		}
	}
	want := []string{
		"046d:c077 Logitech/USB Optical Mouse  ",
		"1d6b:0104 PiKVM/Composite KVM Device ip-kvm high",
		"1d6b:0104 JetKVM/USB Emulation Device ip-kvm high",
	}
	if strings.Join(summary, "\n") != strings.Join(want, "\n") {
		t.Errorf("usb:\n%s\nwant\n%s", strings.Join(summary, "\n"), strings.Join(want, "\n"))
	}
	if pikvm := p.GetUsb()[1]; !strings.Contains(pikvm.GetMatchReason(), "pikvm-manufacturer") ||
		!strings.Contains(pikvm.GetMatchReason(), "kvm-composite-interfaces") {
		t.Errorf("pikvm reason %q", pikvm.GetMatchReason())
	}

	ds := p.GetDisplays()
	if len(ds) != 2 {
		t.Fatalf("displays %v", ds)
	}
	if d := ds[0]; d.GetConnector() != "HDMI-A-1" || d.GetVendor() != "PKV" || d.GetName() != "PiKVM V4" ||
		d.GetFlagged() != FlagIPKVM || d.GetConfidence() != "high" {
		t.Errorf("HDMI display %v", d)
	}
	if d := ds[1]; d.GetConnector() != "eDP-1" || d.GetVendor() != "AUO" || d.GetName() != "" || d.GetFlagged() != "" {
		t.Errorf("panel %v", d)
	}

	pw := r.GetPower()
	if !pw.GetOnAc() || !pw.GetBatteryPresent() || pw.GetBatteryPercent() != 97 || pw.GetLid() != LidClosed {
		t.Errorf("power %v", pw)
	}

	a := r.GetActivity()
	if a.GetIdleSeconds() != 3600 || !a.GetConsoleUserPresent() || !a.GetScreenLocked() || a.GetConsoleUser() != "alice" {
		t.Errorf("activity %v", a)
	}
}

// TestCollectFixtureEmptyRoot: a machine with no USB bus, no DRM, no power
// supplies and no ACPI lid (a VM or container) reports a desktop on AC with
// nothing attached, and no errors.
func TestCollectFixtureEmptyRoot(t *testing.T) {
	r := Collect(context.Background(), rootEnv(t.TempDir(), january), Options{Only: []string{"usb", "displays", "power"}})
	if len(r.GetErrors()) != 0 {
		t.Fatalf("errors: %v", r.GetErrors())
	}
	if len(r.GetPeripherals().GetUsb()) != 0 || len(r.GetPeripherals().GetDisplays()) != 0 {
		t.Errorf("peripherals %v", r.GetPeripherals())
	}
	if pw := r.GetPower(); !pw.GetOnAc() || pw.GetBatteryPresent() || pw.GetBatteryPercent() != -1 || pw.GetLid() != LidUnknown {
		t.Errorf("power %v", pw)
	}
}

// TestCollectFixtureBadEDID: a broken EDID is listed by connector and its
// error is in the report; the other collectors' results stay.
func TestCollectFixtureBadEDID(t *testing.T) {
	root := t.TempDir()
	copyTree(t, filepath.Join("testdata", "linux", "kvm"), root)
	p := filepath.Join(root, "sys", "class", "drm", "card0-HDMI-A-1", "edid")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	b[127]++
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	r := Collect(context.Background(), rootEnv(root, january), Options{Only: []string{"displays", "usb"}})
	if len(r.GetErrors()) != 1 || r.GetErrors()[0].GetCollector() != "displays" ||
		!strings.Contains(r.GetErrors()[0].GetError(), "HDMI-A-1: edid: base block checksum mismatch") {
		t.Errorf("errors %v", r.GetErrors())
	}
	if ds := r.GetPeripherals().GetDisplays(); len(ds) != 2 || ds[0].GetConnector() != "HDMI-A-1" || ds[0].GetName() != "" {
		t.Errorf("displays %v", ds)
	}
	if len(r.GetPeripherals().GetUsb()) != 3 {
		t.Errorf("usb lost: %v", r.GetPeripherals().GetUsb())
	}
}

// TestSmokePeripheralsPowerActivity runs the collectors on this machine.
func TestSmokePeripheralsPowerActivity(t *testing.T) {
	if testing.Short() {
		t.Skip("reads the real machine")
	}
	r := Collect(context.Background(), HostEnv(), Options{Only: []string{"usb", "displays", "power", "activity"}})
	for _, e := range r.GetErrors() {
		t.Logf("collector %s: %s", e.GetCollector(), e.GetError())
		if e.GetCollector() != "activity" {
			t.Errorf("%s failed: %s", e.GetCollector(), e.GetError())
		}
	}
	if r.GetPower() == nil {
		t.Fatal("no power section")
	}
	// What the machine has: a system battery in /sys/class/power_supply.
	battery := false
	entries, _ := os.ReadDir("/sys/class/power_supply")
	for _, e := range entries {
		typ, _ := os.ReadFile(filepath.Join("/sys/class/power_supply", e.Name(), "type"))
		scope, _ := os.ReadFile(filepath.Join("/sys/class/power_supply", e.Name(), "scope"))
		present, _ := os.ReadFile(filepath.Join("/sys/class/power_supply", e.Name(), "present"))
		if strings.TrimSpace(string(typ)) == "Battery" && strings.TrimSpace(string(scope)) != "Device" &&
			strings.TrimSpace(string(present)) != "0" {
			battery = true
		}
	}
	if got := r.GetPower().GetBatteryPresent(); got != battery {
		t.Errorf("battery_present %v, /sys/class/power_supply says %v", got, battery)
	}
	if !battery && (!r.GetPower().GetOnAc() || r.GetPower().GetBatteryPercent() != -1) {
		t.Errorf("no battery, yet %v", r.GetPower())
	}
	devs, _ := filepath.Glob("/sys/bus/usb/devices/*/idVendor")
	nonHub := 0
	for _, d := range devs {
		if !strings.HasPrefix(filepath.Base(filepath.Dir(d)), "usb") {
			nonHub++
		}
	}
	if got := len(r.GetPeripherals().GetUsb()); got != nonHub {
		t.Errorf("%d USB devices reported, sysfs has %d", got, nonHub)
	}
	if a := r.GetActivity(); a != nil && a.GetIdleSeconds() < -1 {
		t.Errorf("activity %v", a)
	}
	t.Logf("usb %d, displays %d, power %v, activity %v", len(r.GetPeripherals().GetUsb()),
		len(r.GetPeripherals().GetDisplays()), r.GetPower(), r.GetActivity())
}
