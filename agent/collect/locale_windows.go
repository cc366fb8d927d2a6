package collect

import (
	"context"
	"fmt"
	"unsafe"

	"golang.org/x/sys/windows"
)

var procGetDynamicTimeZoneInformation = windows.NewLazySystemDLL("kernel32.dll").NewProc("GetDynamicTimeZoneInformation")

// dynamicTimeZoneInformation is DYNAMIC_TIME_ZONE_INFORMATION (timezoneapi.h).
type dynamicTimeZoneInformation struct {
	Bias                        int32
	StandardName                [32]uint16
	StandardDate                windows.Systemtime
	StandardBias                int32
	DaylightName                [32]uint16
	DaylightDate                windows.Systemtime
	DaylightBias                int32
	TimeZoneKeyName             [128]uint16
	DynamicDaylightTimeDisabled uint8
}

// timeZone on Windows: the Windows zone ID from GetDynamicTimeZoneInformation,
// mapped to IANA with CLDR's table (windowszones.go).
func timeZone(_ context.Context, _ *Env) (string, error) {
	if err := procGetDynamicTimeZoneInformation.Find(); err != nil {
		return "", err
	}
	var tzi dynamicTimeZoneInformation
	r, _, err := procGetDynamicTimeZoneInformation.Call(uintptr(unsafe.Pointer(&tzi)))
	if r == 0xffffffff { // TIME_ZONE_ID_INVALID
		return "", fmt.Errorf("GetDynamicTimeZoneInformation: %w", err)
	}
	id := windows.UTF16ToString(tzi.TimeZoneKeyName[:])
	if z, ok := ianaFromWindowsZone(id); ok {
		return z, nil
	}
	return "", fmt.Errorf("windows time zone %q has no IANA mapping in CLDR windowsZones", id)
}
