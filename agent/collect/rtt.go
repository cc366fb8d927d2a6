package collect

import (
	"encoding/binary"
	"net/netip"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// fillRTT sets rtt_us and rtt_var_us on the TCP connections of the matched
// tools from the OS's view of those sockets (rtt_linux.go, rtt_windows.go);
// a package variable so tests can swap it.
var fillRTT = osFillRTT

// tcpConnections lists the TCP connections of the matched tools.
func tcpConnections(tools []*pb.ToolMatch) []*pb.Connection {
	var out []*pb.Connection
	for _, t := range tools {
		for _, c := range t.GetConnections() {
			if c.GetProtocol() == "tcp" || c.GetProtocol() == "tcp6" {
				out = append(out, c)
			}
		}
	}
	return out
}

// applyTCPInfo copies the kernel's RTT of each socket onto the connection
// with the same two ends; it returns how many connections got one.
func applyTCPInfo(conns []*pb.Connection, socks []tcpSocket) int {
	byKey := make(map[connKey]tcpSocket, len(socks))
	for _, s := range socks {
		if s.HasInfo {
			byKey[newConnKey(s.Local, s.Remote)] = s
		}
	}
	n := 0
	for _, c := range conns {
		k, ok := connectionKey(c.GetLocalAddress(), c.GetLocalPort(), c.GetRemoteAddress(), c.GetRemotePort())
		if !ok {
			continue
		}
		if s, ok := byKey[k]; ok {
			c.RttUs, c.RttVarUs = s.RTT, s.RTTVar
			n++
		}
	}
	return n
}

// Windows extended TCP statistics (tcpestats.h and iprtrmib.h), laid out
// here so they are tested on every platform.
const (
	tcpConnectionEstatsPath = 3  // TCP_ESTATS_TYPE TcpConnectionEstatsPath
	mibTCPStateEstab        = 5  // MIB_TCP_STATE_ESTAB
	mibTCPRowLen            = 20 // MIB_TCPROW
	mibTCP6RowLen           = 52 // MIB_TCP6ROW
	// TCP_ESTATS_PATH_ROD_v0 is 40 ULONGs; SmoothedRtt and RttVar, in
	// milliseconds, are the 28th and 29th.
	tcpEstatsPathRodLen    = 40 * 4
	tcpEstatsSmoothedRttOf = 27 * 4
	tcpEstatsRttVarOff     = 28 * 4
)

// mibTCPRow builds the MIB_TCPROW (IPv4) or MIB_TCP6ROW (IPv6) that names a
// connection to GetPerTcp(6)ConnectionEStats: addresses in network byte
// order, each port in network byte order in the low 16 bits of a DWORD.
func mibTCPRow(local, remote netip.AddrPort) (row []byte, v6 bool) {
	le := binary.LittleEndian
	putPort := func(b []byte, p uint16) { binary.BigEndian.PutUint16(b, p) }
	l, r := local.Addr().Unmap(), remote.Addr().Unmap()
	if l.Is4() && r.Is4() {
		row = make([]byte, mibTCPRowLen)
		le.PutUint32(row[0:], mibTCPStateEstab)
		a, b := l.As4(), r.As4()
		copy(row[4:8], a[:])
		putPort(row[8:], local.Port())
		copy(row[12:16], b[:])
		putPort(row[16:], remote.Port())
		return row, false
	}
	// MIB_TCP6ROW: State, LocalAddr, dwLocalScopeId, dwLocalPort, RemoteAddr,
	// dwRemoteScopeId, dwRemotePort.
	row = make([]byte, mibTCP6RowLen)
	le.PutUint32(row[0:], mibTCPStateEstab)
	a, b := local.Addr().As16(), remote.Addr().As16()
	copy(row[4:20], a[:])
	putPort(row[24:], local.Port())
	copy(row[28:44], b[:])
	putPort(row[48:], remote.Port())
	return row, true
}

// parseEstatsPathRod reads SmoothedRtt and RttVar (milliseconds) from a
// TCP_ESTATS_PATH_ROD_v0 and returns them in microseconds.
func parseEstatsPathRod(b []byte) (rttUs, rttVarUs uint32, ok bool) {
	if len(b) < tcpEstatsPathRodLen {
		return 0, 0, false
	}
	le := binary.LittleEndian
	srtt, rttvar := le.Uint32(b[tcpEstatsSmoothedRttOf:]), le.Uint32(b[tcpEstatsRttVarOff:])
	if srtt == 0 || srtt == ^uint32(0) { // not collected yet
		return 0, 0, false
	}
	return msToUs(srtt), msToUs(rttvar), true
}

func msToUs(ms uint32) uint32 {
	if ms > ^uint32(0)/1000 {
		return ^uint32(0)
	}
	return ms * 1000
}
