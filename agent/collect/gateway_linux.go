package collect

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"net/netip"
	"strconv"
	"strings"
)

func defaultGateway(_ context.Context, env *Env) (string, string, error) {
	route, err := env.ReadFile("proc/net/route")
	if err != nil {
		return "", "", err
	}
	gw, ifc, err := parseProcRoute(route)
	if err != nil {
		return "", "", err
	}
	arp, err := env.ReadFile("proc/net/arp")
	if err != nil {
		return gw, "", nil
	}
	return gw, parseProcARP(arp)[arpKey{gw, ifc}], nil
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

type arpKey struct{ ip, ifc string }

// parseProcARP maps the complete entries of /proc/net/arp by address and
// interface.
func parseProcARP(b []byte) map[arpKey]string {
	out := map[arpKey]string{}
	for _, n := range parseProcNeighbors(b) {
		out[arpKey{n.GetIp(), n.GetInterface()}] = n.GetMac()
	}
	return out
}
