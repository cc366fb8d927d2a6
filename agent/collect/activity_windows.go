package collect

import (
	"context"
	"fmt"
	"unsafe"

	"golang.org/x/sys/windows"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

var (
	modUser32            = windows.NewLazySystemDLL("user32.dll")
	procGetLastInputInfo = modUser32.NewProc("GetLastInputInfo")
	procGetTickCount     = windows.NewLazySystemDLL("kernel32.dll").NewProc("GetTickCount")
)

// WTS_INFO_CLASS values (wtsapi32.h).
const (
	wtsSessionInfo   = 24
	wtsSessionInfoEx = 25
)

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
	b := wtsQuery(console, wtsSessionInfo)
	if b == nil {
		return a, fmt.Errorf("WTSQuerySessionInformation(WTSSessionInfo) failed for the console session %d", console)
	}
	if uintptr(len(b)) >= unsafe.Sizeof(wtsInfoW{}) {
		info := (*wtsInfoW)(unsafe.Pointer(&b[0]))
		a.ConsoleUser = windows.UTF16ToString(info.UserName[:])
		a.ConsoleUserPresent = info.State == windows.WTSActive && a.ConsoleUser != ""
		a.IdleSeconds = wtsIdleSeconds(info.CurrentTime, info.LastInputTime)
	}
	if b := wtsQuery(console, wtsSessionInfoEx); uintptr(len(b)) >= unsafe.Sizeof(wtsInfoExHead{}) {
		head := (*wtsInfoExHead)(unsafe.Pointer(&b[0]))
		if head.Level == 1 {
			a.ScreenLocked, _ = wtsLocked(head.SessionFlags)
		}
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
