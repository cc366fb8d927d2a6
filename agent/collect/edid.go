package collect

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

func init() { register("displays", 10*time.Second, collectDisplays) }

// collectDisplays lists the attached monitors (listDisplays is per OS) with
// their EDID manufacturer ID and monitor name, and flags the names of IP-KVM
// capture devices. A display whose EDID is unreadable is still listed and its
// error joins the returned one.
func collectDisplays(ctx context.Context, env *Env, r *pb.Report) error {
	displays, err := listDisplays(ctx, env)
	if err != nil && len(displays) == 0 {
		return err
	}
	cat, cerr := peripheralsCatalog()
	if cerr != nil {
		return cerr
	}
	for _, d := range displays {
		cat.MatchDisplay(d)
	}
	r.Peripherals = &pb.Peripherals{Displays: displays, CatalogVersion: cat.Version}
	return err
}

var edidHeader = []byte{0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00}

// Errors of parseEDID.
var (
	errEDIDShort    = errors.New("edid: shorter than the 128-byte base block")
	errEDIDHeader   = errors.New("edid: bad header")
	errEDIDChecksum = errors.New("edid: base block checksum mismatch")
)

// parseEDID reads the 128-byte EDID base block (VESA E-EDID 1.3/1.4):
// the manufacturer ID in bytes 8-9 as three 5-bit letters ('A' is 1, big
// endian), and the monitor name from the display descriptor tagged 0xFC
// among the four 18-byte descriptors at 54, 72, 90 and 108 (a display
// descriptor starts 00 00 00 <tag> 00; text is up to 13 bytes ended by
// 0x0A and padded with spaces). Extension blocks are ignored.
func parseEDID(b []byte) (vendor, name string, err error) {
	if len(b) < 128 {
		return "", "", errEDIDShort
	}
	b = b[:128]
	if !bytes.Equal(b[:8], edidHeader) {
		return "", "", errEDIDHeader
	}
	var sum byte
	for _, c := range b {
		sum += c
	}
	if sum != 0 {
		return "", "", errEDIDChecksum
	}
	vendor = pnpID(uint16(b[8])<<8 | uint16(b[9]))
	for off := 54; off+18 <= 126; off += 18 {
		d := b[off : off+18]
		if d[0] != 0 || d[1] != 0 || d[2] != 0 || d[3] != 0xfc {
			continue
		}
		text := d[5:18]
		if i := bytes.IndexByte(text, 0x0a); i >= 0 {
			text = text[:i]
		}
		name = strings.TrimSpace(strings.Map(printableASCII, string(text)))
		break
	}
	return vendor, name, nil
}

func printableASCII(r rune) rune {
	if r < 0x20 || r > 0x7e {
		return -1
	}
	return r
}

// displayFromEDID builds a report entry; a bad EDID gives an entry with the
// connector only, and the error.
func displayFromEDID(connector string, edid []byte) (*pb.Display, error) {
	d := &pb.Display{Connector: connector}
	vendor, name, err := parseEDID(edid)
	if err != nil {
		return d, fmt.Errorf("%s: %w", connector, err)
	}
	d.Vendor, d.Name = vendor, name
	return d, nil
}

// --- macOS ---

// parseIoregEDIDs finds the EDID blobs in `ioreg -lw0 -r -c IODisplayConnect`
// (Intel Macs: "IODisplayEDID" = <00ffffffffffff00...>) and
// `ioreg -lw0 -r -c IOPortTransportStateDisplayPort` (Apple silicon external
// displays: "EDID" = <...>). Each blob is keyed by the node name of the
// "+-o" line it belongs to.
func parseIoregEDIDs(out []byte) (connectors []string, blobs [][]byte) {
	node := ""
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 0, 64*1024), 4*1024*1024)
	for sc.Scan() {
		line := strings.TrimLeft(strings.TrimSpace(sc.Text()), "| ")
		if strings.HasPrefix(line, "+-o ") {
			node = strings.Fields(line[4:])[0]
			continue
		}
		key, val, ok := ioregProperty(line)
		if !ok || (key != "IODisplayEDID" && key != "EDID") {
			continue
		}
		b, err := hex.DecodeString(strings.Trim(val, "<>"))
		if err != nil || len(b) < 128 {
			continue
		}
		connectors = append(connectors, node)
		blobs = append(blobs, b)
	}
	return connectors, blobs
}

// parseSystemProfilerDisplays reads `system_profiler -json
// SPDisplaysDataType`: each GPU's spdisplays_ndrvs lists its displays with
// _name (the EDID monitor name, or "Color LCD" for a built-in panel) and,
// on most versions, _spdisplays_display-vendor-id (the EDID manufacturer ID
// as a hex number, not the three letters).
func parseSystemProfilerDisplays(out []byte) ([]*pb.Display, error) {
	var doc struct {
		GPUs []struct {
			Displays []map[string]any `json:"spdisplays_ndrvs"`
		} `json:"SPDisplaysDataType"`
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		return nil, fmt.Errorf("system_profiler json: %w", err)
	}
	var ds []*pb.Display
	for _, g := range doc.GPUs {
		for _, m := range g.Displays {
			d := &pb.Display{}
			d.Name, _ = m["_name"].(string)
			if conn, _ := m["spdisplays_connection_type"].(string); conn != "" {
				d.Connector = strings.TrimPrefix(conn, "spdisplays_")
			}
			if v, _ := m["_spdisplays_display-vendor-id"].(string); v != "" {
				d.Vendor = pnpIDFromHex(v)
			}
			ds = append(ds, d)
		}
	}
	return ds, nil
}

// pnpIDFromHex turns the EDID manufacturer word as hex ("10ac", "610")
// into its letters (DEL, APP); "" when it is not one.
func pnpIDFromHex(s string) string {
	v, err := strconv.ParseUint(strings.TrimPrefix(strings.TrimSpace(s), "0x"), 16, 16)
	if err != nil {
		return ""
	}
	return pnpID(uint16(v))
}

// pnpID spells an EDID manufacturer word as its three letters, 'A' being 1.
func pnpID(id uint16) string {
	out := make([]byte, 3)
	for i, shift := range []uint{10, 5, 0} {
		l := byte(id>>shift) & 0x1f
		if l < 1 || l > 26 {
			return ""
		}
		out[i] = 'A' + l - 1
	}
	return string(out)
}
