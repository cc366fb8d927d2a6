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

// devpkeyDeviceParent is DEVPKEY_Device_Parent (devpkey.h): the instance ID
// of the node a device hangs under.
var devpkeyDeviceParent = windows.DEVPROPKEY{
	FmtID: windows.DEVPROPGUID{Data1: 0x4340a6c5, Data2: 0x93fa, Data3: 0x4706,
		Data4: [8]byte{0x97, 0x2c, 0x7b, 0x64, 0x80, 0x08, 0xa5, 0xa7}},
	PID: 8,
}

// listUSB enumerates the present device nodes of the USB enumerator through
// SetupAPI. The manufacturer string (iManufacturer) is not kept by Windows in
// any device property (SPDRP_MFG is the INF's provider, e.g. "(Standard USB
// Host Controller)"); reading it would need the hub IOCTLs, so it stays
// empty and matching relies on the IDs, the product string and the serial.
// The mass-storage units of USB devices live under another enumerator,
// USBSTOR (an IP-KVM's virtual CD-ROM or flash drive): they are listed too
// and tied to their USB parent.
func listUSB(_ context.Context, _ *Env) ([]usbDevice, error) {
	entries, err := setupAPIEntries("USB")
	if err != nil {
		return nil, err
	}
	storage, serr := setupAPIEntries("USBSTOR")
	entries = append(entries, storage...)
	devs := windowsUSBDevices(entries)
	if serr != nil {
		return devs, serr
	}
	return devs, nil
}

// setupAPIEntries lists the present device nodes of one enumerator.
func setupAPIEntries(enumerator string) ([]winUSBEntry, error) {
	set, err := windows.SetupDiGetClassDevsEx(nil, enumerator, 0,
		windows.DIGCF_PRESENT|windows.DIGCF_ALLCLASSES, 0, "")
	if err != nil {
		return nil, fmt.Errorf("SetupDiGetClassDevsEx %s: %w", enumerator, err)
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
		if v, err := windows.SetupDiGetDeviceProperty(set, data, &devpkeyDeviceParent); err == nil {
			e.Parent, _ = v.(string)
		}
		entries = append(entries, e)
	}
	return entries, nil
}
