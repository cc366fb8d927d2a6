package collect

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"unsafe"

	"golang.org/x/sys/windows"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

var (
	modIphlpapi                    = windows.NewLazySystemDLL("iphlpapi.dll")
	procGetPerTcpConnectionEStats  = modIphlpapi.NewProc("GetPerTcpConnectionEStats")
	procSetPerTcpConnectionEStats  = modIphlpapi.NewProc("SetPerTcpConnectionEStats")
	procGetPerTcp6ConnectionEStats = modIphlpapi.NewProc("GetPerTcp6ConnectionEStats")
	procSetPerTcp6ConnectionEStats = modIphlpapi.NewProc("SetPerTcp6ConnectionEStats")
	errEstatsNeedAdmin             = errors.New("TCP extended statistics need an administrator to enable collection")
)

// osFillRTT reads SmoothedRtt of each connection through
// GetPerTcpConnectionEStats(TcpConnectionEstatsPath). Windows collects these
// statistics only after SetPerTcpConnectionEStats enables them per
// connection, which takes an administrator (the agent's service account);
// the first reading after enabling may be empty until traffic flows.
func osFillRTT(_ context.Context, tools []*pb.ToolMatch) error {
	var errs []error
	for _, c := range tcpConnections(tools) {
		l, err1 := netip.ParseAddr(c.GetLocalAddress())
		r, err2 := netip.ParseAddr(c.GetRemoteAddress())
		if err1 != nil || err2 != nil {
			continue
		}
		row, v6 := mibTCPRow(netip.AddrPortFrom(l, uint16(c.GetLocalPort())), netip.AddrPortFrom(r, uint16(c.GetRemotePort())))
		rtt, rttVar, err := estatsPathRTT(row, v6)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		c.RttUs, c.RttVarUs = rtt, rttVar
	}
	if len(errs) > 0 {
		return fmt.Errorf("rtt: %w", errs[0]) // one reason is enough: they share a cause
	}
	return nil
}

func estatsPathRTT(row []byte, v6 bool) (uint32, uint32, error) {
	get, set := procGetPerTcpConnectionEStats, procSetPerTcpConnectionEStats
	if v6 {
		get, set = procGetPerTcp6ConnectionEStats, procSetPerTcp6ConnectionEStats
	}
	if err := get.Find(); err != nil {
		return 0, 0, err
	}
	var rw [1]byte // TCP_ESTATS_PATH_RW_v0 { BOOLEAN EnableCollection; }
	rod := make([]byte, tcpEstatsPathRodLen)
	read := func() error {
		r, _, _ := get.Call(uintptr(unsafe.Pointer(&row[0])), tcpConnectionEstatsPath,
			uintptr(unsafe.Pointer(&rw[0])), 0, uintptr(len(rw)),
			0, 0, 0,
			uintptr(unsafe.Pointer(&rod[0])), 0, uintptr(len(rod)))
		if r != 0 {
			return fmt.Errorf("GetPerTcpConnectionEStats: %w", windows.Errno(r))
		}
		return nil
	}
	if err := read(); err != nil {
		return 0, 0, err
	}
	if rtt, rttVar, ok := parseEstatsPathRod(rod); ok {
		return rtt, rttVar, nil
	}
	if rw[0] == 0 {
		on := [1]byte{1}
		r, _, _ := set.Call(uintptr(unsafe.Pointer(&row[0])), tcpConnectionEstatsPath,
			uintptr(unsafe.Pointer(&on[0])), 0, uintptr(len(on)), 0)
		if r != 0 {
			if windows.Errno(r) == windows.ERROR_ACCESS_DENIED {
				return 0, 0, errEstatsNeedAdmin
			}
			return 0, 0, fmt.Errorf("SetPerTcpConnectionEStats: %w", windows.Errno(r))
		}
		if err := read(); err != nil {
			return 0, 0, err
		}
	}
	rtt, rttVar, _ := parseEstatsPathRod(rod)
	return rtt, rttVar, nil
}
