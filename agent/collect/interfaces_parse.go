package collect

import (
	"net/netip"
	"strings"
)

// parseHardwarePorts reads macOS `networksetup -listallhardwareports` into
// device -> kind:
//
//	Hardware Port: Wi-Fi
//	Device: en0
//	Ethernet Address: 3c:22:fb:8a:51:d4
//
// The port names are English on every system language. Wi-Fi (AirPort
// before 10.7) is wifi; Ethernet, USB and Thunderbolt adapters are physical;
// Thunderbolt Bridge (a bridge over Thunderbolt ports), iPhone USB and
// Bluetooth PAN tethering are virtual; VPN services do not appear here.
func parseHardwarePorts(b []byte) map[string]string {
	out := map[string]string{}
	port := ""
	colonLines(b, func(k, v string) {
		switch k {
		case "Hardware Port":
			port = v
		case "Device":
			if port != "" && v != "" {
				out[v] = hardwarePortKind(port)
				port = ""
			}
		}
	})
	return out
}

func hardwarePortKind(port string) string {
	p := strings.ToLower(port)
	switch {
	case p == "wi-fi" || p == "airport":
		return KindWifi
	case strings.Contains(p, "bridge"), strings.Contains(p, "iphone"), strings.Contains(p, "ipad"),
		strings.Contains(p, "bluetooth"):
		return KindVirtual
	case strings.Contains(p, "vpn"), strings.Contains(p, "ppp"):
		return KindVPN
	default:
		return KindPhysical
	}
}

// darwinInterfaceKind prefers the hardware port of a device; macOS names
// its tunnels utun/ipsec/ppp/gif/stf and its Apple-internal links
// awdl/llw/anpi/ap/bridge, which kindFromName knows.
func darwinInterfaceKind(ports map[string]string, name string, flags []string) string {
	byName := kindFromName(name, flags)
	if byName == KindLoopback || byName == KindVPN {
		return byName
	}
	if k, ok := ports[name]; ok {
		return k
	}
	return byName
}

// winAdapter is the part of a Windows IP_ADAPTER_ADDRESSES the agent reads.
type winAdapter struct {
	IfIndex     uint32
	Name        string // friendly name, e.g. "Wi-Fi", "Ethernet 2"
	Description string // driver description, e.g. "Wintun Userspace Tunnel"
	IfType      uint32
	Up          bool
	Ipv4Metric  uint32
	DNS         []netip.Addr
}

// IANA ifType values Windows reports (ipifcons.h).
const (
	ifTypeEthernet    = 6
	ifTypePPP         = 23
	ifTypeLoopback    = 24
	ifTypePropVirtual = 53
	ifTypeIEEE80211   = 71
	ifTypeTunnel      = 131
	ifTypeIEEE1394    = 144
	ifTypeWWANPP      = 243
	ifTypeWWANPP2     = 244
)

// vpnAdapterMarkers are driver descriptions of VPN adapters, whatever their
// IfType: OpenVPN's TAP-Windows and ovpn-dco, WireGuard and its Wintun
// driver, and clients that ship their own adapters.
var vpnAdapterMarkers = []string{"tap-windows", "tap-", "wireguard", "wintun", "ovpn-dco", "openvpn",
	"astrill", "nordlynx", "nordvpn", "expressvpn", "protonvpn", "mullvad", "surfshark", "private internet access",
	"tailscale", "zerotier", "anyconnect", "globalprotect", "pangp", "fortinet", "fortissl", "juniper",
	"pulse secure", "softether", "hotspot shield", "cisco systems vpn", "wan miniport", "vpn"}

// virtualAdapterMarkers are hypervisor and container adapters.
var virtualAdapterMarkers = []string{"hyper-v", "virtualbox", "vmware", "virtual ethernet", "virtual adapter",
	"npcap loopback", "microsoft wi-fi direct virtual", "bluetooth device (personal area network)",
	"microsoft kernel debug", "docker"}

// transitionTunnelMarkers are IPv6 transition tunnels (IfType 131) that
// hide nothing about where the laptop is.
var transitionTunnelMarkers = []string{"teredo", "isatap", "6to4", "ip-https"}

// windowsAdapterKind classifies an adapter by IfType and description:
// 71 (IEEE 802.11) is Wi-Fi, 24 loopback, 23 (PPP: dial-up and the RAS VPN
// client) a tunnel, 131 a tunnel unless it is an IPv6 transition tunnel, 53
// (PROP_VIRTUAL) virtual unless a VPN driver; a VPN driver description wins
// over Ethernet (TAP-Windows reports IfType 6).
func windowsAdapterKind(a winAdapter) string {
	d := strings.ToLower(a.Description)
	has := func(markers []string) bool {
		for _, m := range markers {
			if strings.Contains(d, m) {
				return true
			}
		}
		return false
	}
	switch a.IfType {
	case ifTypeLoopback:
		return KindLoopback
	case ifTypeIEEE80211:
		if has(virtualAdapterMarkers) { // Wi-Fi Direct virtual adapters
			return KindVirtual
		}
		return KindWifi
	case ifTypePPP:
		return KindVPN
	case ifTypeTunnel:
		if has(transitionTunnelMarkers) {
			return KindVirtual
		}
		return KindVPN
	}
	if has(vpnAdapterMarkers) {
		return KindVPN
	}
	if byName := kindFromName(a.Name, nil); byName == KindVPN {
		return KindVPN
	}
	switch a.IfType {
	case ifTypePropVirtual:
		return KindVirtual
	case ifTypeEthernet, ifTypeIEEE1394, ifTypeWWANPP, ifTypeWWANPP2:
		if has(virtualAdapterMarkers) {
			return KindVirtual
		}
		return KindPhysical
	}
	return kindFromName(a.Name, nil)
}
