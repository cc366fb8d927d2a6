package collect

import (
	"context"
	"errors"
	"fmt"
	"unsafe"

	psnet "github.com/shirou/gopsutil/v4/net"
	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/registry"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

var (
	remoteLoginWtsapi               = windows.NewLazySystemDLL("wtsapi32.dll")
	procWTSQuerySessionInformationW = remoteLoginWtsapi.NewProc("WTSQuerySessionInformationW")
)

// WTS_INFO_CLASS values (wtsapi32.h).
const (
	wtsClassUserName           = 5
	wtsClassDomainName         = 7
	wtsClassClientAddress      = 14
	wtsClassClientProtocolType = 16
	wtsClassSessionInfo        = 24
)

// readRemoteLogin on Windows: RDP from fDenyTSConnections (policy first),
// OpenSSH Server and VNC services from the service manager, listeners on
// the remote-login ports (GetExtendedTcpTable, through gopsutil), and the
// sessions of Remote Desktop Services.
func readRemoteLogin(ctx context.Context, _ *Env, ra *pb.RemoteAccess) error {
	var errs []error
	ra.RdpEnabled = rdpEnabled(
		regDWORD(`SYSTEM\CurrentControlSet\Control\Terminal Server`, "fDenyTSConnections"),
		regDWORD(`SOFTWARE\Policies\Microsoft\Windows NT\Terminal Services`, "fDenyTSConnections"))
	ra.SshEnabled = windowsServiceEnabled("sshd")
	for _, svc := range []string{"tvnserver", "uvnc_service", "vncserver", "winvnc4"} {
		if windowsServiceEnabled(svc) {
			ra.VncEnabled = true
		}
	}
	if conns, err := psnet.ConnectionsWithContext(ctx, "tcp"); err != nil {
		errs = append(errs, fmt.Errorf("listening sockets: %w", err))
	} else {
		var ports []uint16
		for _, c := range conns {
			if c.Status == "LISTEN" {
				ports = append(ports, uint16(c.Laddr.Port))
			}
		}
		applyListeners(ra, ports)
	}
	sessions, err := wtsSessions()
	if err != nil {
		errs = append(errs, err)
	}
	ra.Sessions = sessions
	return errors.Join(errs...)
}

func regDWORD(path, name string) *uint32 {
	k, err := registry.OpenKey(registry.LOCAL_MACHINE, path, registry.QUERY_VALUE)
	if err != nil {
		return nil
	}
	defer k.Close()
	v, _, err := k.GetIntegerValue(name)
	if err != nil {
		return nil
	}
	d := uint32(v)
	return &d
}

// windowsServiceEnabled asks the service manager with the least rights
// (SC_MANAGER_CONNECT), so it also works for a non-administrator.
func windowsServiceEnabled(name string) bool {
	scm, err := windows.OpenSCManager(nil, nil, windows.SC_MANAGER_CONNECT)
	if err != nil {
		return false
	}
	defer windows.CloseServiceHandle(scm)
	n, _ := windows.UTF16PtrFromString(name)
	h, err := windows.OpenService(scm, n, windows.SERVICE_QUERY_STATUS|windows.SERVICE_QUERY_CONFIG)
	if err != nil {
		return false
	}
	defer windows.CloseServiceHandle(h)
	var status windows.SERVICE_STATUS
	if err := windows.QueryServiceStatus(h, &status); err != nil {
		return false
	}
	var need uint32
	buf := make([]byte, 1024)
	for {
		err := windows.QueryServiceConfig(h, (*windows.QUERY_SERVICE_CONFIG)(unsafe.Pointer(&buf[0])), uint32(len(buf)), &need)
		if err == nil {
			break
		}
		if err != windows.ERROR_INSUFFICIENT_BUFFER || need <= uint32(len(buf)) {
			return serviceEnabled(0, status.CurrentState)
		}
		buf = make([]byte, need)
	}
	cfg := (*windows.QUERY_SERVICE_CONFIG)(unsafe.Pointer(&buf[0]))
	return serviceEnabled(cfg.StartType, status.CurrentState)
}

// wtsSessions enumerates Remote Desktop Services sessions on this machine.
func wtsSessions() ([]*pb.Session, error) {
	var infos *windows.WTS_SESSION_INFO
	var count uint32
	if err := windows.WTSEnumerateSessions(0, 0, 1, &infos, &count); err != nil {
		return nil, fmt.Errorf("WTSEnumerateSessionsW: %w", err)
	}
	defer windows.WTSFreeMemory(uintptr(unsafe.Pointer(infos)))
	var out []*pb.Session
	for _, si := range unsafe.Slice(infos, count) {
		w := wtsSession{ID: si.SessionID, Station: windows.UTF16PtrToString(si.WindowStationName), State: si.State}
		w.User = wtsString(si.SessionID, wtsClassUserName)
		w.Domain = wtsString(si.SessionID, wtsClassDomainName)
		if b := wtsQuery(si.SessionID, wtsClassClientProtocolType); len(b) >= 2 {
			w.Protocol = *(*uint16)(unsafe.Pointer(&b[0]))
		}
		if b := wtsQuery(si.SessionID, wtsClassClientAddress); len(b) >= 24 {
			w.AddrFamily = *(*uint32)(unsafe.Pointer(&b[0]))
			copy(w.Addr[:], b[4:24])
		}
		if b := wtsQuery(si.SessionID, wtsClassSessionInfo); len(b) >= int(unsafe.Sizeof(wtsInfoW{})) {
			w.LogonTime = (*wtsInfoW)(unsafe.Pointer(&b[0])).LogonTime
		}
		if s, ok := sessionFromWTS(w); ok {
			out = append(out, s)
		}
	}
	return out, nil
}

// wtsInfoW is WTSINFOW (wtsapi32.h); Go aligns the LARGE_INTEGERs as C does.
type wtsInfoW struct {
	State                   uint32
	SessionID               uint32
	IncomingBytes           uint32
	OutgoingBytes           uint32
	IncomingFrames          uint32
	OutgoingFrames          uint32
	IncomingCompressedBytes uint32
	OutgoingCompressedBytes uint32
	WinStationName          [32]uint16
	Domain                  [17]uint16
	UserName                [21]uint16
	ConnectTime             int64
	DisconnectTime          int64
	LastInputTime           int64
	LogonTime               int64
	CurrentTime             int64
}

// wtsQuery copies one WTSQuerySessionInformationW answer.
func wtsQuery(id uint32, class uint32) []byte {
	if procWTSQuerySessionInformationW.Find() != nil {
		return nil
	}
	var buf *byte
	var n uint32
	r, _, _ := procWTSQuerySessionInformationW.Call(0, uintptr(id), uintptr(class),
		uintptr(unsafe.Pointer(&buf)), uintptr(unsafe.Pointer(&n)))
	if r == 0 || buf == nil {
		return nil
	}
	defer windows.WTSFreeMemory(uintptr(unsafe.Pointer(buf)))
	return append([]byte(nil), unsafe.Slice(buf, n)...)
}

func wtsString(id, class uint32) string {
	b := wtsQuery(id, class)
	if len(b) < 2 {
		return ""
	}
	return windows.UTF16ToString(unsafe.Slice((*uint16)(unsafe.Pointer(&b[0])), len(b)/2))
}
