package collect

import (
	"testing"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

func powerEqual(a, b *pb.Power) bool {
	return a.GetOnAc() == b.GetOnAc() && a.GetBatteryPresent() == b.GetBatteryPresent() &&
		a.GetBatteryPercent() == b.GetBatteryPercent() && a.GetLid() == b.GetLid()
}

func TestPowerFromSupplies(t *testing.T) {
	ac := powerSupply{Name: "AC", Type: "Mains", Online: "1"}
	acOff := powerSupply{Name: "AC", Type: "Mains", Online: "0"}
	bat := func(status, capacity string) powerSupply {
		return powerSupply{Name: "BAT0", Type: "Battery", Status: status, Capacity: capacity}
	}
	mouse := powerSupply{Name: "hidpp_battery_0", Type: "Battery", Scope: "Device", Status: "Discharging", Capacity: "40"}
	tests := []struct {
		name string
		in   []powerSupply
		want *pb.Power
	}{
		{"desktop without supplies", nil, &pb.Power{OnAc: true, BatteryPercent: -1, Lid: LidUnknown}},
		{"desktop with a wireless mouse", []powerSupply{mouse}, &pb.Power{OnAc: true, BatteryPercent: -1, Lid: LidUnknown}},
		{"laptop plugged in", []powerSupply{ac, bat("Full", "97"), mouse},
			&pb.Power{OnAc: true, BatteryPresent: true, BatteryPercent: 97, Lid: LidUnknown}},
		{"laptop on battery", []powerSupply{acOff, bat("Discharging", "55")},
			&pb.Power{BatteryPresent: true, BatteryPercent: 55, Lid: LidUnknown}},
		{"no mains entry, charging", []powerSupply{bat("Charging", "20")},
			&pb.Power{OnAc: true, BatteryPresent: true, BatteryPercent: 20, Lid: LidUnknown}},
		{"no mains entry, discharging", []powerSupply{bat("Discharging", "20")},
			&pb.Power{BatteryPresent: true, BatteryPercent: 20, Lid: LidUnknown}},
		{"empty battery bay", []powerSupply{ac, {Name: "BAT1", Type: "Battery", Present: "0"}},
			&pb.Power{OnAc: true, BatteryPercent: -1, Lid: LidUnknown}},
		{"capacity unreadable", []powerSupply{ac, bat("Unknown", "")},
			&pb.Power{OnAc: true, BatteryPresent: true, BatteryPercent: -1, Lid: LidUnknown}},
		{"USB-C adapter", []powerSupply{{Name: "ucsi-source-psy-USBC000:001", Type: "USB", Online: "1"}, bat("Charging", "80")},
			&pb.Power{OnAc: true, BatteryPresent: true, BatteryPercent: 80, Lid: LidUnknown}},
	}
	for _, tt := range tests {
		if got := powerFromSupplies(tt.in); !powerEqual(got, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestParseACPILid(t *testing.T) {
	for in, want := range map[string]string{
		"state:      open\n": LidOpen, "state:      closed\n": LidClosed, "state: weird\n": LidUnknown, "": LidUnknown,
	} {
		if got := parseACPILid([]byte(in)); got != want {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
}

func TestParsePmsetBatt(t *testing.T) {
	tests := []struct {
		file string
		want *pb.Power
	}{
		{"pmset_batt_ac.txt", &pb.Power{OnAc: true, BatteryPresent: true, BatteryPercent: 100, Lid: LidUnknown}},
		{"pmset_batt_battery.txt", &pb.Power{BatteryPresent: true, BatteryPercent: 85, Lid: LidUnknown}},
		{"pmset_batt_desktop.txt", &pb.Power{OnAc: true, BatteryPercent: -1, Lid: LidUnknown}},
		{"pmset_batt_ups.txt", &pb.Power{BatteryPercent: -1, Lid: LidUnknown}},
		{"pmset_batt_10.11_no-id.txt", &pb.Power{BatteryPresent: true, BatteryPercent: 64, Lid: LidUnknown}},
		{"pmset_batt_10.11_no-id_ups.txt", &pb.Power{OnAc: true, BatteryPresent: true, BatteryPercent: 100, Lid: LidUnknown}},
	}
	for _, tt := range tests {
		if got := parsePmsetBatt(readFixture(t, "darwin", tt.file)); !powerEqual(got, tt.want) {
			t.Errorf("%s: %v, want %v", tt.file, got, tt.want)
		}
	}
}

func TestParseClamshell(t *testing.T) {
	if got := parseClamshell(readFixture(t, "darwin", "ioreg_clamshell_closed.txt")); got != LidClosed {
		t.Errorf("closed: %q", got)
	}
	if got := parseClamshell(readFixture(t, "darwin", "ioreg_clamshell_open.txt")); got != LidOpen {
		t.Errorf("open: %q", got)
	}
	if got := parseClamshell(nil); got != LidUnknown {
		t.Errorf("desktop (no output): %q", got)
	}
}

func TestPowerFromSystemStatus(t *testing.T) {
	tests := []struct {
		name              string
		ac, flag, percent byte
		want              *pb.Power
	}{
		{"laptop charging", 1, 8, 64, &pb.Power{OnAc: true, BatteryPresent: true, BatteryPercent: 64, Lid: LidUnknown}},
		{"laptop on battery, high", 0, 1, 90, &pb.Power{BatteryPresent: true, BatteryPercent: 90, Lid: LidUnknown}},
		{"battery flag 0 is a battery", 0, 0, 50, &pb.Power{BatteryPresent: true, BatteryPercent: 50, Lid: LidUnknown}},
		{"desktop", 1, 128, 255, &pb.Power{OnAc: true, BatteryPercent: -1, Lid: LidUnknown}},
		{"desktop, AC unknown", 255, 128, 255, &pb.Power{OnAc: true, BatteryPercent: -1, Lid: LidUnknown}},
		{"everything unknown", 255, 255, 255, &pb.Power{OnAc: true, BatteryPercent: -1, Lid: LidUnknown}},
		{"percent unknown", 1, 2, 255, &pb.Power{OnAc: true, BatteryPresent: true, BatteryPercent: -1, Lid: LidUnknown}},
	}
	for _, tt := range tests {
		if got := powerFromSystemStatus(tt.ac, tt.flag, tt.percent); !powerEqual(got, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}
