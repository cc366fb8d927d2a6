package collect

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// The IP-KVM and mouse-jiggler catalog. Each entry names its source in the
// JSON file; a match raises evidence, never proof.

//go:embed peripherals_catalog.json
var peripheralsCatalogJSON []byte

// Flags a USB device or display may carry.
const (
	FlagIPKVM   = "ip-kvm"
	FlagJiggler = "jiggler"
)

// Confidence levels, in rising order.
var confidenceRank = map[string]int{"low": 1, "medium": 2, "high": 3}

// PeripheralsCatalog lists the USB and display identities of IP-KVMs and
// mouse jigglers.
type PeripheralsCatalog struct {
	Version  string            `json:"version"`
	Updated  string            `json:"updated"`
	Sources  string            `json:"sources"`
	USB      []PeripheralEntry `json:"usb"`
	Patterns []PeripheralEntry `json:"patterns"`
	Displays []PeripheralEntry `json:"displays"`
	// Storage entries match the SCSI vendor (manufacturer) and product of a
	// device's mass-storage child, as Windows names it in USBSTOR.
	Storage []PeripheralEntry `json:"storage"`
	byID    map[string]*PeripheralEntry
}

// PeripheralEntry is one identity: every non-empty field must match.
type PeripheralEntry struct {
	ID           string `json:"id"`
	Flag         string `json:"flag"`
	Confidence   string `json:"confidence"`
	VendorID     string `json:"vendor_id,omitempty"`
	ProductID    string `json:"product_id,omitempty"`
	Manufacturer string `json:"manufacturer,omitempty"`
	Product      string `json:"product,omitempty"`
	Serial       string `json:"serial,omitempty"`
	NameContains string `json:"name_contains,omitempty"`
	NamePrefix   string `json:"name_prefix,omitempty"`
	Pattern      string `json:"pattern,omitempty"`
	Source       string `json:"source"`
}

// patternKVMInterfaces is the one interface pattern the matcher knows.
const patternKVMInterfaces = "keyboard+pointer+storage"

var (
	peripheralsOnce sync.Once
	peripheralsCat  *PeripheralsCatalog
	peripheralsErr  error
)

// peripheralsCatalog returns the embedded catalog, parsed once.
func peripheralsCatalog() (*PeripheralsCatalog, error) {
	peripheralsOnce.Do(func() {
		peripheralsCat, peripheralsErr = parsePeripheralsCatalog(peripheralsCatalogJSON)
	})
	return peripheralsCat, peripheralsErr
}

func parsePeripheralsCatalog(b []byte) (*PeripheralsCatalog, error) {
	var c PeripheralsCatalog
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("peripherals catalog: %w", err)
	}
	if c.Version == "" {
		return nil, fmt.Errorf("peripherals catalog: no version")
	}
	c.byID = map[string]*PeripheralEntry{}
	check := func(kind string, list []PeripheralEntry, valid func(*PeripheralEntry) bool) error {
		for i := range list {
			e := &list[i]
			switch {
			case e.ID == "":
				return fmt.Errorf("peripherals catalog: %s entry %d has no id", kind, i)
			case c.byID[e.ID] != nil:
				return fmt.Errorf("peripherals catalog: duplicate id %s", e.ID)
			case e.Flag != FlagIPKVM && e.Flag != FlagJiggler:
				return fmt.Errorf("peripherals catalog: %s: flag %q", e.ID, e.Flag)
			case confidenceRank[e.Confidence] == 0:
				return fmt.Errorf("peripherals catalog: %s: confidence %q", e.ID, e.Confidence)
			case strings.TrimSpace(e.Source) == "":
				return fmt.Errorf("peripherals catalog: %s: no source", e.ID)
			case !valid(e):
				return fmt.Errorf("peripherals catalog: %s: nothing to match, or a field of another kind", e.ID)
			}
			c.byID[e.ID] = e
		}
		return nil
	}
	usbOK := func(e *PeripheralEntry) bool {
		if e.NamePrefix != "" || e.Pattern != "" {
			return false
		}
		for _, id := range []string{e.VendorID, e.ProductID} {
			if id != "" && normalizeUSBID(id) != id {
				return false
			}
		}
		return e.VendorID+e.ProductID+e.Manufacturer+e.Product+e.Serial+e.NameContains != ""
	}
	patternOK := func(e *PeripheralEntry) bool { return e.Pattern == patternKVMInterfaces }
	displayOK := func(e *PeripheralEntry) bool {
		return e.NamePrefix != "" && e.VendorID+e.ProductID+e.Serial+e.Pattern == ""
	}
	storageOK := func(e *PeripheralEntry) bool {
		return e.Manufacturer != "" &&
			e.VendorID+e.ProductID+e.Serial+e.NameContains+e.NamePrefix+e.Pattern == ""
	}
	for _, k := range []struct {
		kind  string
		list  []PeripheralEntry
		valid func(*PeripheralEntry) bool
	}{{"usb", c.USB, usbOK}, {"patterns", c.Patterns, patternOK}, {"displays", c.Displays, displayOK},
		{"storage", c.Storage, storageOK}} {
		if err := check(k.kind, k.list, k.valid); err != nil {
			return nil, err
		}
	}
	return &c, nil
}

// usbDevice is what the OS readers find of one USB device. Serial is kept
// only for matching: it never leaves this package.
type usbDevice struct {
	VendorID     string // 4 lowercase hex digits
	ProductID    string
	Manufacturer string
	Product      string
	Serial       string
	Interfaces   []usbInterface
	// Storage lists the disks and CD-ROMs the device presents (Windows
	// USBSTOR children): an IP-KVM's virtual media.
	Storage []usbStorage
}

// usbStorage is a mass-storage unit as its SCSI inquiry names it.
type usbStorage struct {
	Kind     string // Disk, CdRom, Other, ...
	Vendor   string // up to 8 characters
	Product  string // up to 16 characters
	Revision string
}

// usbInterface is an interface's class triple (USB class codes: HID 0x03
// with boot protocol 1 keyboard and 2 mouse, mass storage 0x08).
type usbInterface struct {
	Class, SubClass, Protocol uint8
}

const (
	usbClassHID         = 0x03
	usbClassMassStorage = 0x08
	hidProtocolKeyboard = 1
)

// match is one catalog hit.
type match struct {
	entry  *PeripheralEntry
	reason string
}

// MatchUSB returns the report entry of a device: identity and, when it matches
// the catalog, the flag, the reasons and the confidence.
func (c *PeripheralsCatalog) MatchUSB(d usbDevice) *pb.USBDevice {
	out := &pb.USBDevice{VendorId: d.VendorID, ProductId: d.ProductID,
		Manufacturer: d.Manufacturer, Product: d.Product}
	var hits []match
	for i := range c.USB {
		if reason, ok := matchUSBEntry(&c.USB[i], d); ok {
			hits = append(hits, match{&c.USB[i], reason})
		}
	}
	for i := range c.Patterns {
		e := &c.Patterns[i]
		if e.Pattern == patternKVMInterfaces && kvmInterfaces(d.Interfaces) {
			hits = append(hits, match{e, "interfaces keyboard+pointer+storage"})
		}
	}
	for _, st := range d.Storage {
		for i := range c.Storage {
			e := &c.Storage[i]
			if strings.EqualFold(st.Vendor, e.Manufacturer) && (e.Product == "" || strings.EqualFold(st.Product, e.Product)) {
				hits = append(hits, match{e, fmt.Sprintf("virtual media %q", strings.TrimSpace(st.Kind+" "+st.Vendor+" "+st.Product))})
			}
		}
	}
	out.Flagged, out.MatchReason, out.Confidence = judge(hits)
	return out
}

// MatchDisplay flags a display by its EDID monitor name.
func (c *PeripheralsCatalog) MatchDisplay(d *pb.Display) {
	var hits []match
	for i := range c.Displays {
		e := &c.Displays[i]
		if d.Name != "" && hasPrefixFold(d.Name, e.NamePrefix) {
			hits = append(hits, match{e, fmt.Sprintf("monitor name %q", d.Name)})
		}
	}
	d.Flagged, d.MatchReason, d.Confidence = judge(hits)
}

// judge combines hits: the flag of the strongest one; its confidence, raised
// one level when two independent entries of that flag agree (for example the
// gadget ID and the manufacturer string).
func judge(hits []match) (flag, reason, confidence string) {
	if len(hits) == 0 {
		return "", "", ""
	}
	sort.SliceStable(hits, func(i, j int) bool {
		return confidenceRank[hits[i].entry.Confidence] > confidenceRank[hits[j].entry.Confidence]
	})
	flag = hits[0].entry.Flag
	rank := confidenceRank[hits[0].entry.Confidence]
	var reasons []string
	same := 0
	for _, h := range hits {
		if h.entry.Flag != flag {
			continue
		}
		same++
		reasons = append(reasons, h.reason+" ("+h.entry.ID+")")
	}
	if same > 1 && rank < 3 {
		rank++
	}
	for name, r := range confidenceRank {
		if r == rank {
			confidence = name
		}
	}
	return flag, strings.Join(reasons, "; "), confidence
}

func matchUSBEntry(e *PeripheralEntry, d usbDevice) (string, bool) {
	var why []string
	if e.VendorID != "" || e.ProductID != "" {
		if (e.VendorID != "" && e.VendorID != d.VendorID) || (e.ProductID != "" && e.ProductID != d.ProductID) {
			return "", false
		}
		why = append(why, "id "+d.VendorID+":"+d.ProductID)
	}
	if e.Manufacturer != "" {
		if !strings.EqualFold(strings.TrimSpace(d.Manufacturer), e.Manufacturer) {
			return "", false
		}
		why = append(why, fmt.Sprintf("manufacturer %q", d.Manufacturer))
	}
	if e.Product != "" {
		if !strings.EqualFold(strings.TrimSpace(d.Product), e.Product) {
			return "", false
		}
		why = append(why, fmt.Sprintf("product %q", d.Product))
	}
	if e.Serial != "" {
		if !strings.EqualFold(strings.TrimSpace(d.Serial), e.Serial) {
			return "", false
		}
		// The catalog's default serial is public; the device's own is not said.
		why = append(why, "default serial "+e.Serial)
	}
	if e.NameContains != "" {
		name := d.Manufacturer + " " + d.Product
		if !strings.Contains(strings.ToLower(name), strings.ToLower(e.NameContains)) {
			return "", false
		}
		why = append(why, fmt.Sprintf("name %q", strings.TrimSpace(name)))
	}
	return strings.Join(why, ", "), true
}

// kvmInterfaces: a HID boot keyboard, another HID interface (the pointer) and
// mass storage on one device.
func kvmInterfaces(ifs []usbInterface) bool {
	keyboard, pointer, storage := false, false, false
	for _, i := range ifs {
		switch {
		case i.Class == usbClassHID && i.Protocol == hidProtocolKeyboard && !keyboard:
			keyboard = true
		case i.Class == usbClassHID:
			pointer = true
		case i.Class == usbClassMassStorage:
			storage = true
		}
	}
	return keyboard && pointer && storage
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// normalizeUSBID turns "0x1D6B", "1d6b" or a decimal "7531" (with
// decimal=true) into 4 lowercase hex digits; "" when it is not an ID.
func normalizeUSBID(s string) string {
	return formatUSBID(s, false)
}

func formatUSBID(s string, decimal bool) string {
	s = strings.TrimSpace(s)
	base := 16
	switch {
	case strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0X"):
		s = s[2:]
	case decimal:
		base = 10
	}
	if s == "" || len(s) > 5 {
		return ""
	}
	var v uint64
	for _, c := range strings.ToLower(s) {
		var d uint64
		switch {
		case c >= '0' && c <= '9':
			d = uint64(c - '0')
		case base == 16 && c >= 'a' && c <= 'f':
			d = uint64(c-'a') + 10
		default:
			return ""
		}
		v = v*uint64(base) + d
	}
	if v > 0xffff {
		return ""
	}
	return fmt.Sprintf("%04x", v)
}

// usbReport matches the devices against the catalog, in a stable order.
func usbReport(devs []usbDevice) (*pb.Peripherals, error) {
	cat, err := peripheralsCatalog()
	if err != nil {
		return nil, err
	}
	p := &pb.Peripherals{CatalogVersion: cat.Version}
	for _, d := range devs {
		p.Usb = append(p.Usb, cat.MatchUSB(d))
	}
	sort.SliceStable(p.Usb, func(i, j int) bool {
		a, b := p.Usb[i], p.Usb[j]
		if a.VendorId != b.VendorId {
			return a.VendorId < b.VendorId
		}
		return a.ProductId < b.ProductId
	})
	return p, nil
}
