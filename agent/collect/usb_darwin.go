package collect

import (
	"context"
	"errors"
)

// listUSB asks IOKit through `ioreg -p IOUSB -l -w0`, which every macOS
// version has and which gives the serial and the interface classes (in
// UsbDeviceSignature). When ioreg fails, system_profiler is the fallback:
// SPUSBDataType up to macOS 15, SPUSBHostDataType from macOS 26.
func listUSB(ctx context.Context, env *Env) ([]usbDevice, error) {
	out, ioErr := env.Command(ctx, "ioreg", "-p", "IOUSB", "-l", "-w0")
	if ioErr == nil {
		return parseIoregUSB(out), nil
	}
	var errs []error
	errs = append(errs, ioErr)
	for _, typ := range []string{"SPUSBDataType", "SPUSBHostDataType"} {
		out, err := env.Command(ctx, "system_profiler", "-json", typ)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		devs, err := parseSystemProfilerUSB(out)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if len(devs) > 0 {
			return devs, nil
		}
	}
	return nil, errors.Join(errs...)
}
