package geo

import "net/netip"

// Range names for addresses that no geolocation database can place. They follow the IANA IPv4 and IPv6
// special-purpose address registries.
const (
	RangeUnspecified   = "unspecified"
	RangeThisNetwork   = "this-network"
	RangePrivate       = "private" // RFC 1918, IPv6 unique-local, local-use NAT64
	RangeCGNAT         = "cgnat"   // RFC 6598 shared address space, 100.64.0.0/10
	RangeLoopback      = "loopback"
	RangeLinkLocal     = "link-local"
	RangeMulticast     = "multicast"
	RangeBroadcast     = "broadcast"
	RangeDocumentation = "documentation"
	RangeBenchmarking  = "benchmarking"
	RangeProtocol      = "ietf-protocol" // 192.0.0.0/24, 2001::/23 outside Teredo
	RangeTeredo        = "teredo"
	RangeReserved      = "reserved" // 240.0.0.0/4, and IPv6 outside 2000::/3
	RangeInvalid       = "invalid"  // the zero netip.Addr
)

type specialRange struct {
	prefix netip.Prefix
	name   string
}

// ipv6Special is checked in order, so narrower prefixes come before the blocks that contain them.
var ipv6Special = []specialRange{
	{netip.MustParsePrefix("2001::/32"), RangeTeredo},
	{netip.MustParsePrefix("2001:2::/48"), RangeBenchmarking},
	{netip.MustParsePrefix("2001:db8::/32"), RangeDocumentation},
	{netip.MustParsePrefix("2001::/23"), RangeProtocol},
	{netip.MustParsePrefix("3fff::/20"), RangeDocumentation},
	{netip.MustParsePrefix("fc00::/7"), RangePrivate},
	{netip.MustParsePrefix("fe80::/10"), RangeLinkLocal},
	{netip.MustParsePrefix("ff00::/8"), RangeMulticast},
	{netip.MustParsePrefix("64:ff9b:1::/48"), RangePrivate},
}

var (
	globalUnicast6 = netip.MustParsePrefix("2000::/3")
	nat64          = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour      = netip.MustParsePrefix("2002::/16")
)

// Classify names the special range ip is in, or returns "" for a public address. IPv4-mapped IPv6
// addresses are classified as the IPv4 address they carry.
func Classify(ip netip.Addr) string {
	ip, _ = publicForm(ip.WithZone(""))
	if !ip.IsValid() {
		return RangeInvalid
	}
	if ip.Is4() {
		return classify4(ip.As4())
	}
	switch {
	case ip.IsUnspecified():
		return RangeUnspecified
	case ip.IsLoopback():
		return RangeLoopback
	}
	for _, r := range ipv6Special {
		if r.prefix.Contains(ip) {
			return r.name
		}
	}
	if !globalUnicast6.Contains(ip) {
		return RangeReserved
	}
	return ""
}

// publicForm returns the address a database should be asked about: IPv4 for IPv4-mapped addresses and for
// the IPv4 address carried inside well-known NAT64 and 6to4 addresses, ip itself otherwise.
func publicForm(ip netip.Addr) (netip.Addr, bool) {
	if ip.Is4In6() {
		return ip.Unmap(), true
	}
	if !ip.Is6() {
		return ip, false
	}
	b := ip.As16()
	switch {
	case nat64.Contains(ip):
		return netip.AddrFrom4([4]byte(b[12:16])), true
	case sixToFour.Contains(ip):
		return netip.AddrFrom4([4]byte(b[2:6])), true
	}
	return ip, false
}

func classify4(b [4]byte) string {
	switch {
	case b == [4]byte{}:
		return RangeUnspecified
	case b[0] == 0:
		return RangeThisNetwork
	case b[0] == 10, b[0] == 172 && b[1]&0xf0 == 16, b[0] == 192 && b[1] == 168:
		return RangePrivate
	case b[0] == 100 && b[1]&0xc0 == 64:
		return RangeCGNAT
	case b[0] == 127:
		return RangeLoopback
	case b[0] == 169 && b[1] == 254:
		return RangeLinkLocal
	case b[0] == 192 && b[1] == 0 && b[2] == 0:
		return RangeProtocol
	case b[0] == 192 && b[1] == 0 && b[2] == 2, b[0] == 198 && b[1] == 51 && b[2] == 100,
		b[0] == 203 && b[1] == 0 && b[2] == 113:
		return RangeDocumentation
	case b[0] == 198 && b[1]&0xfe == 18:
		return RangeBenchmarking
	case b[0]&0xf0 == 224:
		return RangeMulticast
	case b == [4]byte{255, 255, 255, 255}:
		return RangeBroadcast
	case b[0]&0xf0 == 240:
		return RangeReserved
	}
	return ""
}
