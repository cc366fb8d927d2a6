package collect

import (
	"encoding/binary"
	"strings"
	"testing"
)

var interfaceKinds = map[string]bool{KindPhysical: true, KindWifi: true, KindVPN: true, KindVirtual: true, KindLoopback: true}

// FuzzInterfaces feeds `networksetup -listallhardwareports` and the
// Windows adapter classification the same bytes: every device named has a
// name and every kind is one of the five kinds.
func FuzzInterfaces(f *testing.F) {
	addFixtureSeeds(f, "darwin/networksetup-listallhardwareports.txt")
	f.Add([]byte("Hardware Port: Wi-Fi\nDevice:\nHardware Port: VPN (IKEv2)\nDevice: utun3\n"))
	f.Add([]byte("\x47\x00\x00\x00Intel(R) Wi-Fi 6E AX211 160MHz"))
	f.Add([]byte("\x83\x00\x00\x00Teredo Tunneling Pseudo-Interface"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ports := parseHardwarePorts(b)
		if len(ports) > strings.Count(string(b), "Device") {
			t.Fatalf("%d devices from %d Device lines", len(ports), strings.Count(string(b), "Device"))
		}
		for dev, kind := range ports {
			if strings.TrimSpace(dev) == "" || !interfaceKinds[kind] {
				t.Fatalf("device %q of kind %q", dev, kind)
			}
			if k := darwinInterfaceKind(ports, dev, nil); !interfaceKinds[k] {
				t.Fatalf("darwin kind %q of %q", k, dev)
			}
		}
		// Windows gives the adapter's IfType as a number and its names as
		// text: the first four bytes are the type, the rest both names.
		if len(b) >= 4 {
			a := winAdapter{IfType: binary.LittleEndian.Uint32(b), Name: string(b[4:]), Description: string(b[4:])}
			for _, typ := range []uint32{a.IfType, a.IfType & 0xff} {
				a.IfType = typ
				if k := windowsAdapterKind(a); !interfaceKinds[k] {
					t.Fatalf("windows kind %q of %+v", k, a)
				}
			}
		}
	})
}
