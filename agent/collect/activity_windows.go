package collect

import (
	"context"
	"fmt"
	"unsafe"

	"golang.org/x/sys/windows"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

var (
	modWtsapi32                    = windows.NewLazySystemDLL("wtsapi32.dll")
	procWTSQuerySessionInformation = modWtsapi32.NewProc("WTSQuerySessionInformationW")
	modUser32                      = windows.NewLazySystemDLL("user32.dll")
	procGetLastInputInfo           = modUser32.NewProc("GetLastInputInfo")
	procGetTickCount               = windows.NewLazySystemDLL("kernel32.dll").NewProc("GetTickCount")
)

// WTS_INFO_CLASS values (wtsapi32.h).
const (
	wtsSessionInfo   = 24
	wtsSessionInfoEx = 25
)

// wtsInfo is WTSINFOW.
type wtsInfo struct {
	State                   int32
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

// wtsInfoExHead is the start of WTSINFOEXW: Level, then (aligned to 8, as
// the union holds LARGE_INTEGERs) WTSINFOEX_LEVEL1_W's first fields.
type wtsInfoExHead struct {
	Level        uint32
	_            uint32
	SessionID    uint32
	SessionState int32
	SessionFlags int32
}

type lastInputInfo struct {
	Size uint32
	Time uint32
}

// readActivity looks at the physical console session
// (WTSGetActiveConsoleSessionId) through the WTS API: its state and user
// (WTSSessionInfo), its lock state (WTSSessionInfoEx SessionFlags), and its
// LastInputTime. GetLastInputInfo is exact but sees only the caller's own
// session, so it is used only when the agent runs inside the console session;
// a service runs in session 0 and must rely on LastInputTime, which Windows
// often leaves at 0 for the console (then idle_seconds is -1).
func readActivity(_ context.Context, _ *Env) (*pb.Activity, error) {
	a := &pb.Activity{IdleSeconds: -1}
	console := windows.WTSGetActiveConsoleSessionId()
	if console == 0xFFFFFFFF {
		return a, nil // no session attached to the console (switching)
	}
	var buf *byte
	var n uint32
	r, _, err := procWTSQuerySessionInformation.Call(0, uintptr(console), wtsSessionInfo,
		uintptr(unsafe.Pointer(&buf)), uintptr(unsafe.Pointer(&n)))
	if r == 0 {
		return a, fmt.Errorf("WTSQuerySessionInformation(WTSSessionInfo): %w", err)
	}
	if uintptr(n) >= unsafe.Sizeof(wtsInfo{}) {
		info := (*wtsInfo)(unsafe.Pointer(buf))
		a.ConsoleUser = windows.UTF16ToString(info.UserName[:])
		a.ConsoleUserPresent = info.State == windows.WTSActive && a.ConsoleUser != ""
		a.IdleSeconds = wtsIdleSeconds(info.CurrentTime, info.LastInputTime)
	}
	windows.WTSFreeMemory(uintptr(unsafe.Pointer(buf)))

	buf, n = nil, 0
	if r, _, _ := procWTSQuerySessionInformation.Call(0, uintptr(console), wtsSessionInfoEx,
		uintptr(unsafe.Pointer(&buf)), uintptr(unsafe.Pointer(&n))); r != 0 {
		if uintptr(n) >= unsafe.Sizeof(wtsInfoExHead{}) {
			head := (*wtsInfoExHead)(unsafe.Pointer(buf))
			if head.Level == 1 {
				a.ScreenLocked, _ = wtsLocked(head.SessionFlags)
			}
		}
		windows.WTSFreeMemory(uintptr(unsafe.Pointer(buf)))
	}

	var own uint32
	if windows.ProcessIdToSessionId(windows.GetCurrentProcessId(), &own) == nil && own == console {
		li := lastInputInfo{Size: uint32(unsafe.Sizeof(lastInputInfo{}))}
		if r, _, _ := procGetLastInputInfo.Call(uintptr(unsafe.Pointer(&li))); r != 0 {
			now, _, _ := procGetTickCount.Call()
			a.IdleSeconds = tickIdleSeconds(uint32(now), li.Time)
		}
	}
	return a, nil
}
