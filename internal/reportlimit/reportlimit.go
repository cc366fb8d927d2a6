// Package reportlimit is the one statement of how big a report and each of
// its fields may be. The agent cuts what it collects to these limits before
// it spools a report, and the collector refuses a report past them, so an
// honest agent is never refused for size and the two cannot drift apart. The
// package depends on nothing but the report's descriptors, so the agent
// binary carries no collector code.
package reportlimit

import "google.golang.org/protobuf/reflect/protoreflect"

// MaxReportBytes bounds one marshalled report. Measured: the union of every
// collector fixture (Linux, macOS, Windows) in one report is 3,646 bytes, a
// development machine's own report 680 and the simulator's at most 623
// (TestDenseFixtureReportFitsTheCap in agent/collect logs the first two).
// 256 KiB is 72 times the dense report and holds a full neighbour table
// (1,024 entries, about 50 KB), so no honest report comes near it, while a
// hostile one cannot fill the 4 MiB message.
const MaxReportBytes = 256 << 10

// MaxString is the byte limit of a string or bytes field with no limit of
// its own; MaxList the entry limit of a list or map with none.
const (
	MaxString = 1024
	MaxList   = 1024
)

// Field-specific string limits in bytes, by full field name. An SSID is at
// most 32 bytes on the air, 128 once every byte is escaped as \xNN.
var stringLimits = map[protoreflect.FullName]int{
	"farmwatch.v1.Host.hostname":        255,
	"farmwatch.v1.Interface.name":       64,
	"farmwatch.v1.Interface.mac":        64,
	"farmwatch.v1.Wifi.ssid":            128,
	"farmwatch.v1.BSS.ssid":             128,
	"farmwatch.v1.ToolMatch.path":       4096,
	"farmwatch.v1.CollectorError.error": 2048,
}

// Field-specific list limits, by full field name, each far above what a
// laptop shows: in brackets, the length in the dense fixture report above,
// which the test checks stays under half the limit. Lists without a limit
// here take MaxList.
var listLimits = map[protoreflect.FullName]int{
	"farmwatch.v1.Report.errors":           64,   // at most one per collector, 14 of them
	"farmwatch.v1.Report.vpn_clients":      64,   // catalogue matches
	"farmwatch.v1.Network.interfaces":      256,  // a developer's container links add up [4]
	"farmwatch.v1.Interface.addresses":     64,   // IPv6 temporary addresses pile up [3]
	"farmwatch.v1.Network.dns_servers":     32,   // [5]
	"farmwatch.v1.Wifi.nearby":             64,   // the agent keeps the strongest 40 [11]
	"farmwatch.v1.Network.neighbors":       1024, // the Linux neighbour table's default ceiling, gc_thresh3 [9]
	"farmwatch.v1.RemoteAccess.tools":      128,  // catalogue matches, one per process
	"farmwatch.v1.ToolMatch.listening":     64,   // sockets of one process
	"farmwatch.v1.ToolMatch.connections":   256,  // a VNC or RDP server's clients
	"farmwatch.v1.RemoteAccess.sessions":   64,   // login sessions [4]
	"farmwatch.v1.Peripherals.usb":         128,  // devices, hubs included [13]
	"farmwatch.v1.Peripherals.displays":    32,   // [2]
	"farmwatch.v1.Locale.keyboard_layouts": 64,   // layouts installed
	"farmwatch.v1.Locale.input_methods":    64,   // input methods installed
	"farmwatch.v1.Locale.input_languages":  64,   // their languages
	"farmwatch.v1.AgentHealth.collectors":  64,   // one per collector, 14 of them [10]
}

// String is the byte limit of a string or bytes field.
func String(fd protoreflect.FieldDescriptor) int {
	if n, ok := stringLimits[fd.FullName()]; ok {
		return n
	}
	return MaxString
}

// List is the entry limit of a list or map field.
func List(fd protoreflect.FieldDescriptor) int {
	if n, ok := listLimits[fd.FullName()]; ok {
		return n
	}
	return MaxList
}

// StringLimits returns a copy of the field-specific string limits.
func StringLimits() map[protoreflect.FullName]int { return clone(stringLimits) }

// ListLimits returns a copy of the field-specific list limits.
func ListLimits() map[protoreflect.FullName]int { return clone(listLimits) }

func clone(m map[protoreflect.FullName]int) map[protoreflect.FullName]int {
	out := make(map[protoreflect.FullName]int, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
