package collect

import (
	"context"
	"errors"
	"fmt"

	"golang.org/x/sys/windows"
)

// devpkeyBusReportedDeviceDesc is DEVPKEY_Device_BusReportedDeviceDesc
// (devpkey.h): the string the device itself reports (iProduct), where
// SPDRP_DEVICEDESC is the driver INF's generic "USB Composite Device".
var devpkeyBusReportedDeviceDesc = windows.DEVPROPKEY{
	FmtID: windows.DEVPROPGUID{Data1: 0x540b947e, Data2: 0x8b40, Data3: 0x45bc,
		Data4: [8]byte{0xa8, 0xa2, 0x6a, 0x0b, 0x89, 0x4c, 0xbd, 0xa2}},
	PID: 4,
}

// listUSB enumerates the present device nodes of the USB enumerator through
// SetupAPI. The manufacturer string (iManufacturer) is not kept by Windows in
// any device property (SPDRP_MFG is the INF's provider, e.g. "(Standard USB
// Host Controller)"); reading it would need the hub IOCTLs, so it stays
// empty and matching relies on the IDs, the product string and the serial.
func listUSB(_ context.Context, _ *Env) ([]usbDevice, error) {
	set, err := windows.SetupDiGetClassDevsEx(nil, "USB", 0,
		windows.DIGCF_PRESENT|windows.DIGCF_ALLCLASSES, 0, "")
	if err != nil {
		return nil, fmt.Errorf("SetupDiGetClassDevsEx USB: %w", err)
	}
	defer windows.SetupDiDestroyDeviceInfoList(set)
	var entries []winUSBEntry
	for i := 0; ; i++ {
		data, err := windows.SetupDiEnumDeviceInfo(set, i)
		if errors.Is(err, windows.ERROR_NO_MORE_ITEMS) {
			break
		}
		if err != nil {
			continue
		}
		id, err := windows.SetupDiGetDeviceInstanceId(set, data)
		if err != nil {
			continue
		}
		e := winUSBEntry{InstanceID: id}
		if v, err := windows.SetupDiGetDeviceProperty(set, data, &devpkeyBusReportedDeviceDesc); err == nil {
			e.Product, _ = v.(string)
		}
		if e.Product == "" {
			if v, err := windows.SetupDiGetDeviceRegistryProperty(set, data, windows.SPDRP_DEVICEDESC); err == nil {
				e.Product, _ = v.(string)
			}
		}
		if v, err := windows.SetupDiGetDeviceRegistryProperty(set, data, windows.SPDRP_COMPATIBLEIDS); err == nil {
			e.CompatibleID, _ = v.([]string)
		}
		entries = append(entries, e)
	}
	return windowsUSBDevices(entries), nil
}
