package collect

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/registry"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// guidDevClassMonitor is GUID_DEVCLASS_MONITOR (devguid.h).
var guidDevClassMonitor = windows.GUID{Data1: 0x4d36e96e, Data2: 0xe325, Data3: 0x11ce,
	Data4: [8]byte{0xbf, 0xc1, 0x08, 0x00, 0x2b, 0xe1, 0x03, 0x18}}

// listDisplays reads the EDID Windows stores per monitor under
// HKLM\SYSTEM\CurrentControlSet\Enum\DISPLAY\<model>\<instance>\Device
// Parameters\EDID. That tree keeps every monitor ever attached, so the
// monitors are enumerated with SetupDiGetClassDevsEx(GUID_DEVCLASS_MONITOR,
// DIGCF_PRESENT) and each present one's "Device Parameters" key is opened
// with SetupDiOpenDevRegKey(DIREG_DEV): detached monitors never show up. The
// connector is the instance ID's model part (DISPLAY\DEL41A8\... gives
// DEL41A8): Windows names no physical connector there.
func listDisplays(_ context.Context, _ *Env) ([]*pb.Display, error) {
	set, err := windows.SetupDiGetClassDevsEx(&guidDevClassMonitor, "", 0, windows.DIGCF_PRESENT, 0, "")
	if err != nil {
		return nil, fmt.Errorf("SetupDiGetClassDevsEx monitor: %w", err)
	}
	defer windows.SetupDiDestroyDeviceInfoList(set)
	var out []*pb.Display
	var errs []error
	for i := 0; ; i++ {
		data, err := windows.SetupDiEnumDeviceInfo(set, i)
		if errors.Is(err, windows.ERROR_NO_MORE_ITEMS) {
			break
		}
		if err != nil {
			continue
		}
		conn := ""
		if id, err := windows.SetupDiGetDeviceInstanceId(set, data); err == nil {
			conn = monitorModel(id)
		}
		h, err := windows.SetupDiOpenDevRegKey(set, data, windows.DICS_FLAG_GLOBAL, 0, windows.DIREG_DEV, windows.KEY_READ)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: open device parameters: %w", conn, err))
			continue
		}
		k := registry.Key(h)
		edid, _, err := k.GetBinaryValue("EDID")
		k.Close()
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: read EDID: %w", conn, err))
			out = append(out, &pb.Display{Connector: conn})
			continue
		}
		d, err := displayFromEDID(conn, edid)
		out = append(out, d)
		if err != nil {
			errs = append(errs, err)
		}
	}
	return out, errors.Join(errs...)
}

// monitorModel returns the middle part of DISPLAY\DEL41A8\5&2b1e&0&UID4353.
func monitorModel(instanceID string) string {
	parts := strings.Split(instanceID, `\`)
	if len(parts) >= 2 {
		return parts[1]
	}
	return instanceID
}
