package collect

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
)

// The Linux sock_diag protocol (NETLINK_SOCK_DIAG), built and parsed here
// without an OS suffix so the byte layouts are tested on every platform.
// Layouts follow include/uapi/linux/netlink.h, inet_diag.h, sock_diag.h and
// tcp.h. Header fields are in host byte order; ports and addresses in
// network byte order.
const (
	nlmsgHdrLen      = 16 // struct nlmsghdr
	nlmsgError       = 2  // NLMSG_ERROR
	nlmsgDone        = 3  // NLMSG_DONE
	nlmFRequest      = 0x1
	nlmFDump         = 0x300 // NLM_F_ROOT | NLM_F_MATCH
	sockDiagByFamily = 20    // SOCK_DIAG_BY_FAMILY
	ipprotoTCP       = 6

	inetDiagReqV2Len = 56 // struct inet_diag_req_v2
	inetDiagMsgLen   = 72 // struct inet_diag_msg
	inetDiagInfo     = 2  // INET_DIAG_INFO: the attribute carrying struct tcp_info

	// Offsets in struct tcp_info of tcpi_rtt and tcpi_rttvar (microseconds).
	tcpInfoRTTOff    = 68
	tcpInfoRTTVarOff = 72

	tcpEstablished = 1  // TCP_ESTABLISHED in include/net/tcp_states.h
	tcpListen      = 10 // TCP_LISTEN

	diagAFInet  = 2  // AF_INET
	diagAFInet6 = 10 // AF_INET6 on Linux
)

// tcpSocket is one TCP socket as the kernel's inet_diag reports it.
type tcpSocket struct {
	Local, Remote netip.AddrPort
	State         uint8
	// RTT and RTTVar are tcpi_rtt and tcpi_rttvar in microseconds; HasInfo
	// is false when the kernel sent no tcp_info (e.g. a listening socket of
	// another network namespace).
	RTT, RTTVar uint32
	HasInfo     bool
}

// inetDiagRequest builds the netlink message that dumps the TCP sockets of
// one address family in the states of the bit mask, asking for tcp_info.
func inetDiagRequest(family uint8, states uint32, seq uint32) []byte {
	b := make([]byte, nlmsgHdrLen+inetDiagReqV2Len)
	ne := binary.NativeEndian
	ne.PutUint32(b[0:], uint32(len(b)))
	ne.PutUint16(b[4:], sockDiagByFamily)
	ne.PutUint16(b[6:], nlmFRequest|nlmFDump)
	ne.PutUint32(b[8:], seq)
	// nlmsg_pid 0: the kernel.
	req := b[nlmsgHdrLen:]
	req[0] = family
	req[1] = ipprotoTCP
	req[2] = 1 << (inetDiagInfo - 1) // idiag_ext
	ne.PutUint32(req[4:], states)
	// The zero inet_diag_sockid matches every socket in a dump.
	return b
}

// errDumpDone ends a dump.
var errDumpDone = errors.New("inet_diag dump done")

// parseInetDiag parses one buffer of netlink messages from a dump. It
// returns errDumpDone (with the sockets before it) on NLMSG_DONE.
func parseInetDiag(b []byte) ([]tcpSocket, error) {
	ne := binary.NativeEndian
	var out []tcpSocket
	for len(b) >= nlmsgHdrLen {
		l := int(ne.Uint32(b[0:]))
		typ := ne.Uint16(b[4:])
		if l < nlmsgHdrLen || l > len(b) {
			return out, fmt.Errorf("netlink message length %d in a buffer of %d", l, len(b))
		}
		body := b[nlmsgHdrLen:l]
		switch typ {
		case nlmsgDone:
			return out, errDumpDone
		case nlmsgError:
			if len(body) >= 4 {
				if errno := int32(ne.Uint32(body)); errno != 0 {
					return out, fmt.Errorf("inet_diag: netlink error %d", -errno)
				}
			}
		case sockDiagByFamily:
			s, err := parseInetDiagMsg(body)
			if err != nil {
				return out, err
			}
			out = append(out, s)
		}
		b = b[min(align4(l), len(b)):]
	}
	return out, nil
}

func align4(n int) int { return (n + 3) &^ 3 }

// parseInetDiagMsg parses struct inet_diag_msg and its attributes.
func parseInetDiagMsg(b []byte) (tcpSocket, error) {
	var s tcpSocket
	if len(b) < inetDiagMsgLen {
		return s, fmt.Errorf("inet_diag_msg of %d bytes, want %d", len(b), inetDiagMsgLen)
	}
	family := b[0]
	s.State = b[1]
	id := b[4:52] // struct inet_diag_sockid
	sport := binary.BigEndian.Uint16(id[0:])
	dport := binary.BigEndian.Uint16(id[2:])
	src, dst := id[4:20], id[20:36]
	switch family {
	case diagAFInet:
		s.Local = netip.AddrPortFrom(netip.AddrFrom4([4]byte(src[:4])), sport)
		s.Remote = netip.AddrPortFrom(netip.AddrFrom4([4]byte(dst[:4])), dport)
	case diagAFInet6:
		s.Local = netip.AddrPortFrom(netip.AddrFrom16([16]byte(src)), sport)
		s.Remote = netip.AddrPortFrom(netip.AddrFrom16([16]byte(dst)), dport)
	default:
		return s, fmt.Errorf("inet_diag_msg of address family %d", family)
	}
	ne := binary.NativeEndian
	attrs := b[inetDiagMsgLen:]
	for len(attrs) >= 4 {
		l := int(ne.Uint16(attrs[0:]))
		typ := ne.Uint16(attrs[2:])
		if l < 4 || l > len(attrs) {
			return s, fmt.Errorf("rtattr length %d in %d bytes", l, len(attrs))
		}
		if typ == inetDiagInfo && l >= 4+tcpInfoRTTVarOff+4 {
			info := attrs[4:l]
			s.RTT = ne.Uint32(info[tcpInfoRTTOff:])
			s.RTTVar = ne.Uint32(info[tcpInfoRTTVarOff:])
			s.HasInfo = true
		}
		attrs = attrs[min(align4(l), len(attrs)):]
	}
	return s, nil
}

// connKey identifies a connection by its two ends, IPv4-mapped IPv6
// addresses unmapped so gopsutil's and the kernel's views agree.
type connKey struct{ local, remote netip.AddrPort }

func newConnKey(local, remote netip.AddrPort) connKey {
	norm := func(ap netip.AddrPort) netip.AddrPort {
		return netip.AddrPortFrom(ap.Addr().Unmap().WithZone(""), ap.Port())
	}
	return connKey{norm(local), norm(remote)}
}

// connectionKey is the key of a reported connection; ok is false when its
// addresses do not parse.
func connectionKey(localAddr string, localPort uint32, remoteAddr string, remotePort uint32) (connKey, bool) {
	l, err1 := netip.ParseAddr(localAddr)
	r, err2 := netip.ParseAddr(remoteAddr)
	if err1 != nil || err2 != nil || localPort > 0xffff || remotePort > 0xffff {
		return connKey{}, false
	}
	return newConnKey(netip.AddrPortFrom(l, uint16(localPort)), netip.AddrPortFrom(r, uint16(remotePort))), true
}
