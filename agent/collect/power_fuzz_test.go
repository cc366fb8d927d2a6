package collect

import "testing"

// FuzzPower feeds the power parsers (`pmset -g batt`, the ioreg clamshell
// state, the ACPI lid file): a battery charge is -1 (unknown) or 0-100,
// known only when a battery is present, and a lid is open, closed or
// unknown.
func FuzzPower(f *testing.F) {
	addFixtureSeeds(f, "darwin/pmset_batt_*.txt", "darwin/ioreg_clamshell_*.txt")
	f.Add([]byte("Now drawing from 'AC Power'\n -InternalBattery-0\t999%; charged;\n"))
	f.Add([]byte(" -InternalBattery-0 (id=1)\t99999999999999999999%;\n"))
	f.Add([]byte("state:      closed\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p := parsePmsetBatt(b)
		if pc := p.GetBatteryPercent(); pc < -1 || pc > 100 || (!p.GetBatteryPresent() && pc != -1) {
			t.Fatalf("pmset: battery present %v, percent %d", p.GetBatteryPresent(), pc)
		}
		lids := map[string]bool{LidOpen: true, LidClosed: true, LidUnknown: true}
		if l := p.GetLid(); l != LidUnknown {
			t.Fatalf("pmset set the lid: %q", l)
		}
		if l := parseClamshell(b); !lids[l] {
			t.Fatalf("clamshell: %q", l)
		}
		if l := parseACPILid(b); !lids[l] {
			t.Fatalf("ACPI lid: %q", l)
		}
	})
}
