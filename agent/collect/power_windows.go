package collect

import (
	"context"
	"fmt"
	"unsafe"

	"golang.org/x/sys/windows"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

var procGetSystemPowerStatus = windows.NewLazySystemDLL("kernel32.dll").NewProc("GetSystemPowerStatus")

// systemPowerStatus is SYSTEM_POWER_STATUS (winbase.h).
type systemPowerStatus struct {
	ACLineStatus        byte
	BatteryFlag         byte
	BatteryLifePercent  byte
	SystemStatusFlag    byte
	BatteryLifeTime     uint32
	BatteryFullLifeTime uint32
}

// readPower calls GetSystemPowerStatus. The lid stays "unknown": Windows
// has no call that returns the lid state; it is only delivered as the
// GUID_LIDSWITCH_STATE_CHANGE power-setting notification to a window or
// service registered with RegisterPowerSettingNotification, which a
// one-shot collector does not hold (and desktops never send it).
func readPower(_ context.Context, _ *Env) (*pb.Power, error) {
	var s systemPowerStatus
	if r, _, err := procGetSystemPowerStatus.Call(uintptr(unsafe.Pointer(&s))); r == 0 {
		return nil, fmt.Errorf("GetSystemPowerStatus: %w", err)
	}
	return powerFromSystemStatus(s.ACLineStatus, s.BatteryFlag, s.BatteryLifePercent), nil
}
