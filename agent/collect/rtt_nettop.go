package collect

import (
	"bufio"
	"bytes"
	"math"
	"net/netip"
	"strconv"
	"strings"
)

// nettopArgs ask macOS's nettop for one CSV sample (-L 1) of TCP sockets
// only (-m tcp), with numeric addresses (-n) and, besides the time and name
// columns it always prints, only the average RTT (-J rtt_avg). nettop has no
// RTT variance column.
var nettopArgs = []string{"-m", "tcp", "-L", "1", "-n", "-J", "rtt_avg"}

// nettopMaxRTTUs bounds a believable RTT: TCP's retransmission timer tops
// out at 64 s, so a larger smoothed RTT is a misread column.
const nettopMaxRTTUs = 64_000_000

// parseNettop reads `nettop -m tcp -L 1 -n -J rtt_avg`: a header naming the
// columns, then per process a row "name.pid" followed by one row per socket
// whose name column is "tcp4 10.0.0.5:52001<->203.0.113.9:443" (IPv6 ends
// ".port": "tcp6 fe80::1%en0.52001<->2001:db8::9.443"):
//
//	time,,rtt_avg,
//	09:12:01.402113,Slack Helper.9198,,
//	09:12:01.401877,tcp4 10.0.0.5:52001<->203.0.113.9:443,23.16 ms,
//
// Columns are found by the header (the name column is the one without a
// title), so a wider column set parses the same. Listening and half-open
// sockets (a "*" end) and rows without an RTT are skipped. The RTT goes to
// tcpSocket.RTT in microseconds with HasInfo set, as inet_diag's does.
func parseNettop(b []byte) []tcpSocket {
	var socks []tcpSocket
	name, rtt := -1, -1
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		f := strings.Split(sc.Text(), ",")
		if hasColumn(f, "rtt_avg") { // a header; nettop repeats it per sample
			name, rtt = -1, -1
			for i, c := range f {
				switch {
				case c == "" && name < 0:
					name = i
				case c == "rtt_avg":
					rtt = i
				}
			}
			continue
		}
		if name < 0 || rtt < 0 || name >= len(f) || rtt >= len(f) {
			continue
		}
		local, remote, ok := parseNettopFlow(f[name])
		if !ok {
			continue
		}
		us, ok := parseNettopRTT(f[rtt])
		if !ok {
			continue
		}
		socks = append(socks, tcpSocket{Local: local, Remote: remote, RTT: us, HasInfo: true})
	}
	return socks
}

func hasColumn(f []string, col string) bool {
	for _, c := range f {
		if c == col {
			return true
		}
	}
	return false
}

// parseNettopFlow reads "tcp4 10.0.0.5:52001<->203.0.113.9:443" or
// "tcp6 2001:db8::5.52001<->2001:db8::9.443".
func parseNettopFlow(s string) (local, remote netip.AddrPort, ok bool) {
	proto, flow, found := strings.Cut(strings.TrimSpace(s), " ")
	if !found || (proto != "tcp4" && proto != "tcp6") {
		return local, remote, false
	}
	l, r, found := strings.Cut(flow, "<->")
	if !found {
		return local, remote, false
	}
	sep := ":"
	if proto == "tcp6" {
		sep = "."
	}
	local, ok1 := parseNettopEnd(l, sep)
	remote, ok2 := parseNettopEnd(r, sep)
	return local, remote, ok1 && ok2
}

func parseNettopEnd(s, sep string) (netip.AddrPort, bool) {
	i := strings.LastIndex(s, sep)
	if i <= 0 {
		return netip.AddrPort{}, false
	}
	a, err := netip.ParseAddr(s[:i])
	if err != nil || a.IsUnspecified() {
		return netip.AddrPort{}, false
	}
	p, err := strconv.ParseUint(s[i+1:], 10, 16)
	if err != nil || p == 0 {
		return netip.AddrPort{}, false
	}
	return netip.AddrPortFrom(a, uint16(p)), true
}

// parseNettopRTT reads "23.16 ms" (a bare number is taken as milliseconds,
// and "us" and "s" are honoured) into microseconds; ok is false for an
// empty, zero, malformed or unbelievable value.
func parseNettopRTT(s string) (uint32, bool) {
	num, unit, _ := strings.Cut(strings.TrimSpace(s), " ")
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || math.IsNaN(v) || v <= 0 {
		return 0, false
	}
	switch strings.TrimSpace(unit) {
	case "", "ms", "msec":
		v *= 1000
	case "us", "µs", "usec":
	case "s", "sec":
		v *= 1_000_000
	default:
		return 0, false
	}
	if v > nettopMaxRTTUs {
		return 0, false
	}
	return max(uint32(math.Round(v)), 1), true // 0 would read as "no RTT"
}
