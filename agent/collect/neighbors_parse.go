package collect

import (
	"bufio"
	"bytes"
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// normalizeMAC returns a 48-bit MAC as six zero-padded lowercase octets
// joined by colons. It accepts the unpadded octets of macOS `arp -an`
// ("f0:18:98:5:d8:39"), Windows' dashes ("F0-18-98-05-D8-39") and nmcli's
// escaped colons ("F0\:18\:98\:05\:D8\:39"); ok is false for anything else.
func normalizeMAC(s string) (mac string, ok bool) {
	s = strings.ReplaceAll(strings.TrimSpace(s), `\:`, ":")
	sep := ":"
	if strings.Count(s, "-") == 5 {
		sep = "-"
	}
	parts := strings.Split(s, sep)
	if len(parts) != 6 {
		return "", false
	}
	out := make([]string, 6)
	for i, p := range parts {
		if len(p) == 0 || len(p) > 2 {
			return "", false
		}
		v, err := strconv.ParseUint(p, 16, 8)
		if err != nil {
			return "", false
		}
		out[i] = fmt.Sprintf("%02x", v)
	}
	return strings.Join(out, ":"), true
}

// neighborMAC is a MAC worth reporting as a neighbour: not all zeros (an
// unresolved entry) and not a group address (broadcast, multicast entries
// that Windows and macOS list as permanent neighbours).
func neighborMAC(s string) (string, bool) {
	mac, ok := normalizeMAC(s)
	if !ok || mac == "00:00:00:00:00:00" {
		return "", false
	}
	first, _ := strconv.ParseUint(mac[:2], 16, 8)
	if first&1 == 1 {
		return "", false
	}
	return mac, true
}

// parseProcNeighbors reads the complete entries of Linux /proc/net/arp in
// table order.
func parseProcNeighbors(b []byte) []*pb.Neighbor {
	var out []*pb.Neighbor
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 6 || f[0] == "IP" {
			continue
		}
		flags, _ := strconv.ParseUint(strings.TrimPrefix(f[2], "0x"), 16, 32)
		if flags&0x2 == 0 { // ATF_COM: resolved
			continue
		}
		mac, ok := neighborMAC(f[3])
		if !ok {
			continue
		}
		if _, err := netip.ParseAddr(f[0]); err != nil {
			continue
		}
		out = append(out, &pb.Neighbor{Ip: f[0], Mac: mac, Interface: f[5]})
	}
	return out
}

// parseArpAn reads macOS `arp -an`:
//
//	? (192.168.1.74) at f0:18:98:5:d8:39 on en0 ifscope [ethernet]
//
// Incomplete entries ("at (incomplete)"), group addresses and the
// "permanent" entries macOS keeps for the machine's own addresses are
// dropped.
func parseArpAn(b []byte) []*pb.Neighbor {
	var out []*pb.Neighbor
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		// name (ip) at mac on ifc ...
		if len(f) < 6 || f[2] != "at" || f[4] != "on" {
			continue
		}
		ip := strings.TrimSuffix(strings.TrimPrefix(f[1], "("), ")")
		addr, err := netip.ParseAddr(ip)
		if err != nil {
			continue
		}
		mac, ok := neighborMAC(f[3])
		if !ok || contains(f[6:], "permanent") {
			continue
		}
		out = append(out, &pb.Neighbor{Ip: addr.String(), Mac: mac, Interface: f[5]})
	}
	return out
}

// Windows NL_NEIGHBOR_STATE values (netioapi.h).
const (
	nlnsUnreachable = 0
	nlnsIncomplete  = 1
	nlnsPermanent   = 6
)

// winNeighbor is the part of a Windows MIB_IPNET_ROW2 the agent reads.
type winNeighbor struct {
	IfIndex uint32
	Addr    netip.Addr
	MAC     []byte
	State   uint32
}

// windowsNeighbors interprets GetIpNetTable2 rows: unreachable and
// incomplete entries have no usable MAC, group addresses are not hosts.
func windowsNeighbors(rows []winNeighbor, ifName map[uint32]string) []*pb.Neighbor {
	var out []*pb.Neighbor
	for _, r := range rows {
		if r.State == nlnsUnreachable || r.State == nlnsIncomplete || !r.Addr.IsValid() || len(r.MAC) != 6 {
			continue
		}
		mac, ok := neighborMAC(fmt.Sprintf("%x:%x:%x:%x:%x:%x", r.MAC[0], r.MAC[1], r.MAC[2], r.MAC[3], r.MAC[4], r.MAC[5]))
		if !ok {
			continue
		}
		name := ifName[r.IfIndex]
		if name == "" {
			name = strconv.FormatUint(uint64(r.IfIndex), 10)
		}
		out = append(out, &pb.Neighbor{Ip: r.Addr.Unmap().WithZone("").String(), Mac: mac, Interface: name})
	}
	return out
}

// neighborFor returns the MAC of ip on interface ifc ("" matches any
// interface).
func neighborFor(ns []*pb.Neighbor, ip, ifc string) string {
	for _, n := range ns {
		if n.GetIp() == ip && (ifc == "" || n.GetInterface() == ifc) {
			return n.GetMac()
		}
	}
	return ""
}

// sortNeighbors orders by interface, then address, for stable reports.
func sortNeighbors(ns []*pb.Neighbor) {
	sort.SliceStable(ns, func(i, j int) bool {
		if ns[i].GetInterface() != ns[j].GetInterface() {
			return ns[i].GetInterface() < ns[j].GetInterface()
		}
		a, errA := netip.ParseAddr(ns[i].GetIp())
		b, errB := netip.ParseAddr(ns[j].GetIp())
		if errA != nil || errB != nil {
			return ns[i].GetIp() < ns[j].GetIp()
		}
		return a.Less(b)
	})
}
