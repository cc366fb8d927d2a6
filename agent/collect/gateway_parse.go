package collect

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// parseRouteGetDefault reads macOS `route -n get default`:
//
//	   route to: default
//	destination: default
//	    gateway: 192.168.1.254
//	  interface: en0
//
// gw is empty when the default route has no gateway address, as when a VPN's
// utun interface holds it.
func parseRouteGetDefault(b []byte) (gw, ifc string) {
	colonLines(b, func(k, v string) {
		switch k {
		case "gateway":
			if a, err := netip.ParseAddr(v); err == nil && a.Is4() {
				gw = a.String()
			}
		case "interface":
			ifc = v
		}
	})
	return gw, ifc
}

// parseNetstatDefault reads macOS `netstat -rn -f inet` and returns the
// first default route through a gateway address on an interface that is not
// a tunnel. With a VPN up, the unscoped default points at utun and the home
// router's default survives only as an interface-scoped (flag I) route.
//
// The interface column is found by each section's header: macOS 10.15 and
// later print "Destination Gateway Flags Netif Expire", 10.14 and earlier
// "Destination Gateway Flags Refs Use Netif Expire". Rows before any header
// are read by their shape (two counters after the flags mean the old layout).
func parseNetstatDefault(b []byte) (gw, ifc string) {
	netif := -1 // index of Netif in the current section's header
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		if f[0] == "Destination" {
			netif = slices.Index(f, "Netif")
			continue
		}
		if strings.HasSuffix(f[0], ":") { // "Internet:", "Internet6:"
			netif = -1
			continue
		}
		if f[0] != "default" || len(f) < 4 {
			continue
		}
		col := netif
		if col < 0 {
			col = 3
			if len(f) >= 6 && isDecimal(f[3]) && isDecimal(f[4]) {
				col = 5
			}
		}
		if col >= len(f) || isDecimal(f[col]) {
			continue
		}
		a, err := netip.ParseAddr(f[1])
		if err != nil || !a.Is4() || !strings.Contains(f[2], "G") {
			continue
		}
		if kindFromName(f[col], nil) == KindVPN {
			continue
		}
		return a.String(), f[col]
	}
	return "", ""
}

// isDecimal reports whether s is a non-empty run of ASCII digits.
func isDecimal(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// parseProcRoute returns the default route's gateway (little-endian hex in
// /proc/net/route) with the lowest metric.
func parseProcRoute(b []byte) (gw, ifc string, err error) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	best := -1
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 8 || f[0] == "Iface" {
			continue
		}
		if f[1] != "00000000" || f[7] != "00000000" {
			continue // not a default route
		}
		flags, _ := strconv.ParseUint(f[3], 16, 32)
		if flags&0x3 != 0x3 { // RTF_UP|RTF_GATEWAY
			continue
		}
		raw, err := hex.DecodeString(f[2])
		if err != nil || len(raw) != 4 {
			continue
		}
		metric, _ := strconv.Atoi(f[6])
		if best >= 0 && metric >= best {
			continue
		}
		var a [4]byte
		binary.LittleEndian.PutUint32(a[:], binary.BigEndian.Uint32(raw))
		gw, ifc, best = netip.AddrFrom4(a).String(), f[0], metric
	}
	if gw == "" {
		return "", "", errors.New("no default IPv4 route")
	}
	return gw, ifc, nil
}

// winRoute is the part of a Windows MIB_IPFORWARD_ROW2 the agent reads.
type winRoute struct {
	IfIndex uint32
	Dest    netip.Prefix
	NextHop netip.Addr
	Metric  uint32
}

// pickWindowsDefaultRoute picks the IPv4 default route (0.0.0.0/0 through a
// gateway) with the lowest effective metric, which Windows computes as the
// route metric plus the interface metric; equal metrics keep the first.
func pickWindowsDefaultRoute(routes []winRoute, ifMetric map[uint32]uint32) (winRoute, bool) {
	var best winRoute
	found := false
	var bestMetric uint64
	for _, r := range routes {
		if !r.Dest.IsValid() || r.Dest.Bits() != 0 || !r.Dest.Addr().Is4() {
			continue
		}
		hop := r.NextHop.Unmap()
		if !hop.Is4() || hop.IsUnspecified() {
			continue // on-link default, no gateway
		}
		m := uint64(r.Metric) + uint64(ifMetric[r.IfIndex])
		if !found || m < bestMetric {
			best, bestMetric, found = r, m, true
			best.NextHop = hop
		}
	}
	return best, found
}
