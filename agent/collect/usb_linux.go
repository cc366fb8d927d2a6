package collect

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
)

// listUSB reads /sys/bus/usb/devices: device entries (1-1, 3-2.1) carry
// idVendor and idProduct and the string descriptors the kernel cached
// (manufacturer, product, serial; absent when the device has none), and
// interface entries (1-1:1.0) carry bInterfaceClass/SubClass/Protocol.
// Root hubs (usb1, ...) are the host controllers, not devices: skipped.
func listUSB(_ context.Context, env *Env) ([]usbDevice, error) {
	dir := env.Path("sys/bus/usb/devices")
	entries, err := os.ReadDir(dir)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, nil // no USB bus (some VMs and containers)
		}
		return nil, fmt.Errorf("read %s: %w", dir, err)
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	read := func(name, attr string) string {
		b, err := env.ReadFile("sys/bus/usb/devices", name, attr)
		if err != nil {
			return ""
		}
		return strings.TrimSpace(string(b))
	}
	var devs []usbDevice
	for _, n := range names {
		if strings.Contains(n, ":") || strings.HasPrefix(n, "usb") {
			continue
		}
		d := usbDevice{
			VendorID:     normalizeUSBID(read(n, "idVendor")),
			ProductID:    normalizeUSBID(read(n, "idProduct")),
			Manufacturer: read(n, "manufacturer"),
			Product:      read(n, "product"),
			Serial:       read(n, "serial"),
		}
		if d.VendorID == "" {
			continue
		}
		for _, in := range names {
			if !strings.HasPrefix(in, n+":") {
				continue
			}
			d.Interfaces = append(d.Interfaces, usbInterface{
				Class:    sysfsHexByte(read(in, "bInterfaceClass")),
				SubClass: sysfsHexByte(read(in, "bInterfaceSubClass")),
				Protocol: sysfsHexByte(read(in, "bInterfaceProtocol")),
			})
		}
		devs = append(devs, d)
	}
	return devs, nil
}

// sysfsHexByte reads the kernel's "%02x" attributes.
func sysfsHexByte(s string) uint8 {
	v, err := strconv.ParseUint(s, 16, 8)
	if err != nil {
		return 0
	}
	return uint8(v)
}
