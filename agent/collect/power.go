package collect

import (
	"context"
	"regexp"
	"strconv"
	"strings"
	"time"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

func init() { register("power", 5*time.Second, collectPower) }

// Lid states.
const (
	LidOpen    = "open"
	LidClosed  = "closed"
	LidUnknown = "unknown"
)

// collectPower: on AC, battery present and charge, lid (readPower is per
// OS). A laptop on a shelf is always on AC with its lid closed.
func collectPower(ctx context.Context, env *Env, r *pb.Report) error {
	p, err := readPower(ctx, env)
	if p != nil {
		r.Power = p
	}
	return err
}

// powerSupply is one /sys/class/power_supply entry.
type powerSupply struct {
	Name     string
	Type     string // Mains, USB, Battery, UPS, Wireless
	Online   string // "1" when a mains adapter is plugged in
	Status   string // Charging, Discharging, Full, Not charging, Unknown
	Capacity string // percent
	Present  string // "0" for an empty battery bay; absent means present
	Scope    string // "Device" for a peripheral's battery (mouse, headset)
}

// powerFromSupplies judges the Linux power supplies. Batteries of
// peripherals (scope Device) are not the system's. With no system battery
// the machine is a desktop and on AC by definition; with one, AC is a mains
// or USB supply online, or a battery that is not discharging.
func powerFromSupplies(supplies []powerSupply) *pb.Power {
	p := &pb.Power{BatteryPercent: -1, Lid: LidUnknown}
	mainsKnown, mainsOnline := false, false
	discharging := false
	for _, s := range supplies {
		switch s.Type {
		case "Mains", "USB", "USB_C", "USB_PD", "Wireless":
			if s.Online == "" {
				continue
			}
			mainsKnown = true
			if s.Online != "0" {
				mainsOnline = true
			}
		case "Battery":
			if strings.EqualFold(s.Scope, "Device") || s.Present == "0" {
				continue
			}
			p.BatteryPresent = true
			if v, err := strconv.Atoi(s.Capacity); err == nil && v >= 0 && v <= 100 && p.BatteryPercent < 0 {
				p.BatteryPercent = int32(v)
			}
			if s.Status == "Discharging" {
				discharging = true
			}
		}
	}
	switch {
	case mainsKnown:
		p.OnAc = mainsOnline
	case p.BatteryPresent:
		p.OnAc = !discharging
	default:
		p.OnAc = true
	}
	return p
}

// parseACPILid reads /proc/acpi/button/lid/*/state: "state:      open".
func parseACPILid(b []byte) string {
	_, v, ok := strings.Cut(string(b), ":")
	if !ok {
		return LidUnknown
	}
	switch strings.TrimSpace(v) {
	case "open":
		return LidOpen
	case "closed":
		return LidClosed
	}
	return LidUnknown
}

var (
	pmsetSource = regexp.MustCompile(`Now drawing from '([^']+)'`)
	// The name is followed by "(id=NNN)" since macOS 10.12; OS X 10.11 and
	// earlier print the name, a tab and the charge. A UPS's name may hold
	// spaces ("-UPS CP600").
	pmsetBattery = regexp.MustCompile(`(?m)^\s*-([^\t\n]+?)(?:\s+\(id=\d+\))?\s+(\d+)%;`)
)

// parsePmsetBatt reads `pmset -g batt`:
//
//	Now drawing from 'AC Power'
//	 -InternalBattery-0 (id=4653155)	85%; charged; 0:00 remaining present: true
//
// (OS X 10.11: " -InternalBattery-0	85%; charged; ..." without the id.) A
// desktop Mac prints the first line only; a UPS shows up as a line without
// "InternalBattery" and is not the system battery. A charge outside 0-100
// is not believed.
func parsePmsetBatt(out []byte) *pb.Power {
	p := &pb.Power{BatteryPercent: -1, Lid: LidUnknown}
	s := string(out)
	if m := pmsetSource.FindStringSubmatch(s); m != nil {
		p.OnAc = m[1] == "AC Power"
	}
	for _, m := range pmsetBattery.FindAllStringSubmatch(s, -1) {
		if !strings.HasPrefix(m[1], "InternalBattery") {
			continue
		}
		p.BatteryPresent = true
		if v, err := strconv.Atoi(m[2]); err == nil && v <= 100 {
			p.BatteryPercent = int32(v)
		}
	}
	return p
}

var clamshellState = regexp.MustCompile(`"AppleClamshellState"\s*=\s*(Yes|No)`)

// parseClamshell reads `ioreg -r -k AppleClamshellState -d 4`:
// "AppleClamshellState" = Yes means the lid is closed. Macs without a lid
// (desktops) print nothing: unknown.
func parseClamshell(out []byte) string {
	m := clamshellState.FindSubmatch(out)
	switch {
	case m == nil:
		return LidUnknown
	case string(m[1]) == "Yes":
		return LidClosed
	default:
		return LidOpen
	}
}

// powerFromSystemStatus reads Windows' SYSTEM_POWER_STATUS: ACLineStatus
// 0 offline, 1 online, 255 unknown; BatteryFlag 128 no system battery, 255
// unknown; BatteryLifePercent 255 unknown. Windows gives no lid state here
// (see power_windows.go).
func powerFromSystemStatus(acLine, batteryFlag, percent byte) *pb.Power {
	p := &pb.Power{BatteryPercent: -1, Lid: LidUnknown}
	p.BatteryPresent = batteryFlag&128 == 0 // 255 (unknown) has the bit too
	switch acLine {
	case 1:
		p.OnAc = true
	case 255:
		// Unknown: a machine without a battery can only be on AC.
		p.OnAc = !p.BatteryPresent
	}
	if p.BatteryPresent && percent <= 100 {
		p.BatteryPercent = int32(percent)
	}
	return p
}
