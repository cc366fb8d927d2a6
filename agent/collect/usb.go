package collect

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

func init() { register("usb", 10*time.Second, collectUSB) }

// collectUSB lists the USB devices (listUSB is per OS) and matches them
// against the IP-KVM and jiggler catalog. Serials are used for matching only.
func collectUSB(ctx context.Context, env *Env, r *pb.Report) error {
	devs, err := listUSB(ctx, env)
	if err != nil && len(devs) == 0 {
		return err
	}
	p, cerr := usbReport(devs)
	if cerr != nil {
		return cerr
	}
	r.Peripherals = p
	return err
}

// --- macOS: ioreg -p IOUSB -l -w0 ---

// parseIoregUSB reads the IOUSB plane as `ioreg -p IOUSB -l -w0` prints it:
// a "+-o Name@location  <class ...>" line starts each node, and its
// properties follow as `"key" = value` lines. idVendor and idProduct are
// decimal. Nodes without idVendor (the root, host controllers) are skipped.
func parseIoregUSB(out []byte) []usbDevice {
	var devs []usbDevice
	var cur *usbDevice
	var signature string
	flush := func() {
		if cur != nil && cur.VendorID != "" {
			cur.Interfaces = signatureInterfaces(signature, cur.Serial)
			devs = append(devs, *cur)
		}
		cur, signature = nil, ""
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 0, 64*1024), 4*1024*1024)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		line = strings.TrimLeft(line, "| ")
		if strings.HasPrefix(line, "+-o ") {
			flush()
			cur = &usbDevice{}
			continue
		}
		if cur == nil {
			continue
		}
		key, val, ok := ioregProperty(line)
		if !ok {
			continue
		}
		switch key {
		case "idVendor":
			cur.VendorID = formatUSBID(val, true)
		case "idProduct":
			cur.ProductID = formatUSBID(val, true)
		case "USB Vendor Name", "kUSBVendorString":
			cur.Manufacturer = unquote(val)
		case "USB Product Name", "kUSBProductString":
			cur.Product = unquote(val)
		case "USB Serial Number", "kUSBSerialNumberString":
			cur.Serial = unquote(val)
		case "UsbDeviceSignature":
			signature = strings.Trim(val, "<>")
		}
	}
	flush()
	return devs
}

// ioregProperty splits `"key" = value`.
func ioregProperty(line string) (key, val string, ok bool) {
	if !strings.HasPrefix(line, `"`) {
		return "", "", false
	}
	end := strings.Index(line[1:], `"`)
	if end < 0 {
		return "", "", false
	}
	key = line[1 : end+1]
	rest := strings.TrimSpace(line[end+2:])
	if !strings.HasPrefix(rest, "=") {
		return "", "", false
	}
	return key, strings.TrimSpace(rest[1:]), true
}

func unquote(s string) string {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		return s[1 : len(s)-1]
	}
	return s
}

// signatureInterfaces decodes the interface classes from IOUSBHostDevice's
// UsbDeviceSignature: idVendor, idProduct, bcdDevice (little-endian 16-bit
// each), the serial string's bytes, the device class triple, then one
// class/subclass/protocol triple per interface. Anything that does not fit
// that layout gives no interfaces.
func signatureInterfaces(sig, serial string) []usbInterface {
	b, err := hex.DecodeString(sig)
	if err != nil || len(b) < 6+len(serial)+3 {
		return nil
	}
	if serial != "" && string(b[6:6+len(serial)]) != serial {
		return nil
	}
	rest := b[6+len(serial)+3:]
	if len(rest)%3 != 0 {
		return nil
	}
	var ifs []usbInterface
	for i := 0; i < len(rest); i += 3 {
		ifs = append(ifs, usbInterface{rest[i], rest[i+1], rest[i+2]})
	}
	return ifs
}

// --- macOS: system_profiler SPUSBDataType / SPUSBHostDataType -json ---

// parseSystemProfilerUSB reads `system_profiler -json SPUSBDataType` (up to
// macOS 15: vendor_id "0x154b  (PNY Technologies Inc.)" or
// "apple_vendor_id", product_id, manufacturer, serial_num) and macOS 26's
// SPUSBHostDataType (USBDeviceKeyVendorID, USBDeviceKeyProductID,
// USBDeviceKeyVendorName, USBDeviceKeySerialNumber). The product name is the
// item's _name. Buses (items without a vendor ID) are walked, not reported.
func parseSystemProfilerUSB(out []byte) ([]usbDevice, error) {
	var doc map[string][]json.RawMessage
	if err := json.Unmarshal(out, &doc); err != nil {
		return nil, fmt.Errorf("system_profiler json: %w", err)
	}
	var devs []usbDevice
	var walk func(items []json.RawMessage)
	walk = func(items []json.RawMessage) {
		for _, raw := range items {
			var item map[string]any
			if json.Unmarshal(raw, &item) != nil {
				continue
			}
			str := func(keys ...string) string {
				for _, k := range keys {
					if s, ok := item[k].(string); ok {
						return strings.TrimSpace(s)
					}
				}
				return ""
			}
			vendor := str("vendor_id", "USBDeviceKeyVendorID")
			if vendor != "" {
				d := usbDevice{
					VendorID:     profilerVendorID(vendor),
					ProductID:    normalizeUSBID(firstField(str("product_id", "USBDeviceKeyProductID"))),
					Manufacturer: str("manufacturer", "USBDeviceKeyVendorName"),
					Product:      str("_name"),
					Serial:       str("serial_num", "USBDeviceKeySerialNumber"),
				}
				if d.Serial == "Not Provided" {
					d.Serial = ""
				}
				if d.VendorID != "" {
					devs = append(devs, d)
				}
			}
			if sub, ok := item["_items"].([]any); ok {
				var children []json.RawMessage
				for _, s := range sub {
					b, _ := json.Marshal(s)
					children = append(children, b)
				}
				walk(children)
			}
		}
	}
	for _, key := range []string{"SPUSBDataType", "SPUSBHostDataType"} {
		walk(doc[key])
	}
	return devs, nil
}

// profilerVendorID reads "0x154b  (PNY Technologies Inc.)", "0x05ac" or
// the symbolic "apple_vendor_id".
func profilerVendorID(s string) string {
	if strings.HasPrefix(s, "apple_vendor_id") {
		return "05ac"
	}
	return normalizeUSBID(firstField(s))
}

func firstField(s string) string {
	if f := strings.Fields(s); len(f) > 0 {
		return f[0]
	}
	return ""
}

// --- Windows: SetupAPI entries of the USB enumerator ---

// winUSBEntry is one device node of the USB enumerator as SetupAPI lists it
// with DIGCF_PRESENT|DIGCF_ALLCLASSES: a whole device or, for a composite
// device, one of its interfaces (instance ID with &MI_xx).
type winUSBEntry struct {
	InstanceID string
	// Product is DEVPKEY_Device_BusReportedDeviceDesc: the device's own
	// iProduct string (or iInterface for an interface node).
	Product      string
	CompatibleID []string
	// Parent is DEVPKEY_Device_Parent: for a USBSTOR node, the instance
	// ID of the USB device or interface it hangs under.
	Parent string
}

// windowsUSBDevices folds the interface nodes into their parent device. An
// instance ID is USB\VID_1D6B&PID_0104\<serial>; its last part is the
// device serial only when it holds no '&' (Windows otherwise makes up a
// location-based ID such as 6&2b1e1a0c&0&2).
func windowsUSBDevices(entries []winUSBEntry) []usbDevice {
	type key struct{ vid, pid string }
	var out []usbDevice
	first := map[key]int{}
	pendingIfs := map[key][]usbInterface{}
	pendingStorage := map[key][]usbStorage{}
	var orphans []usbStorage
	for _, e := range entries {
		if st, ok := parseUSBSTORInstanceID(e.InstanceID); ok {
			// The parent is the device or its mass-storage interface node.
			if vid, pid, _, _, ok := parseUSBInstanceID(e.Parent); ok {
				pendingStorage[key{vid, pid}] = append(pendingStorage[key{vid, pid}], st)
			} else {
				orphans = append(orphans, st)
			}
			continue
		}
		vid, pid, mi, last, ok := parseUSBInstanceID(e.InstanceID)
		if !ok {
			continue
		}
		k := key{vid, pid}
		if mi {
			if c, ok := usbClassFromCompatible(e.CompatibleID); ok {
				pendingIfs[k] = append(pendingIfs[k], c)
			}
			continue
		}
		d := usbDevice{VendorID: vid, ProductID: pid, Product: e.Product}
		if !strings.Contains(last, "&") {
			d.Serial = last
		}
		// A device without interface nodes is its own single interface;
		// a composite parent says DevClass_00.
		if c, ok := usbClassFromCompatible(e.CompatibleID); ok && c.Class != 0 {
			d.Interfaces = append(d.Interfaces, c)
		}
		if _, seen := first[k]; !seen {
			first[k] = len(out)
		}
		out = append(out, d)
	}
	// Interface nodes name no parent in their ID: they go to the first
	// device with their vendor and product IDs.
	for k, ifs := range pendingIfs {
		if i, ok := first[k]; ok {
			out[i].Interfaces = append(out[i].Interfaces, ifs...)
		}
	}
	for k, st := range pendingStorage {
		if i, ok := first[k]; ok {
			out[i].Storage = append(out[i].Storage, st...)
		} else {
			orphans = append(orphans, st...)
		}
	}
	// Storage whose USB parent was not listed still names its maker: it
	// is reported as a device of unknown IDs.
	for _, st := range orphans {
		out = append(out, usbDevice{Product: strings.TrimSpace(st.Vendor + " " + st.Product), Storage: []usbStorage{st}})
	}
	return out
}

// parseUSBSTORInstanceID reads a USB mass-storage unit's instance ID,
// USBSTOR\<Kind>&Ven_<vendor>&Prod_<product>&Rev_<revision>\<unique>, for
// example USBSTOR\CdRom&Ven_GLINET&Prod_Flash_Drive&Rev_1.00\7&1c6f0b4e&0&CAFEBABE&0.
// Windows writes the SCSI inquiry fields with '_' for spaces and in either
// case (SetupAPI keeps the driver's case, WMI upper-cases).
func parseUSBSTORInstanceID(id string) (usbStorage, bool) {
	parts := strings.Split(id, `\`)
	if len(parts) != 3 || !strings.EqualFold(parts[0], "USBSTOR") || parts[2] == "" {
		return usbStorage{}, false
	}
	fields := strings.Split(parts[1], "&")
	st := usbStorage{Kind: fields[0]}
	if st.Kind == "" || strings.Contains(st.Kind, "_") {
		return usbStorage{}, false
	}
	for _, f := range fields[1:] {
		name, val, ok := strings.Cut(f, "_")
		if !ok {
			continue
		}
		val = strings.TrimSpace(strings.ReplaceAll(val, "_", " "))
		switch strings.ToUpper(name) {
		case "VEN":
			st.Vendor = val
		case "PROD":
			st.Product = val
		case "REV":
			st.Revision = val
		}
	}
	if st.Vendor == "" && st.Product == "" {
		return usbStorage{}, false
	}
	return st, true
}

// parseUSBInstanceID splits USB\VID_xxxx&PID_xxxx[&MI_xx]\last.
func parseUSBInstanceID(id string) (vid, pid string, mi bool, last string, ok bool) {
	parts := strings.Split(id, `\`)
	if len(parts) != 3 || !strings.EqualFold(parts[0], "USB") {
		return "", "", false, "", false
	}
	for _, f := range strings.Split(strings.ToUpper(parts[1]), "&") {
		switch {
		case strings.HasPrefix(f, "VID_"):
			vid = normalizeUSBID(f[4:])
		case strings.HasPrefix(f, "PID_"):
			pid = normalizeUSBID(f[4:])
		case strings.HasPrefix(f, "MI_"):
			mi = true
		}
	}
	if vid == "" || pid == "" {
		return "", "", false, "", false
	}
	return vid, pid, mi, parts[2], true
}

// usbClassFromCompatible reads USB\Class_03&SubClass_01&Prot_01 (an
// interface) or USB\DevClass_00&... (a device) from the compatible IDs.
func usbClassFromCompatible(ids []string) (usbInterface, bool) {
	for _, id := range ids {
		u := strings.ToUpper(id)
		if !strings.HasPrefix(u, `USB\CLASS_`) && !strings.HasPrefix(u, `USB\DEVCLASS_`) {
			continue
		}
		var c usbInterface
		n := 0
		for _, f := range strings.Split(u[4:], "&") {
			name, val, ok := strings.Cut(f, "_")
			if !ok {
				continue
			}
			v, err := strconv.ParseUint(val, 16, 8)
			if err != nil {
				continue
			}
			switch name {
			case "CLASS", "DEVCLASS":
				c.Class, n = uint8(v), n+1
			case "SUBCLASS":
				c.SubClass, n = uint8(v), n+1
			case "PROT":
				c.Protocol, n = uint8(v), n+1
			}
		}
		if n == 3 {
			return c, true
		}
	}
	return usbInterface{}, false
}
