package sim

import (
	"fmt"
	"math/rand/v2"
	"net/netip"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// home is a claimed home and the residential network the simulator places an
// honest hire on there (prefixes of geotest.DemoNetworks).
type home struct {
	place, zone string
	prefix      string
}

var homes = []home{
	{"Austin, TX, US", "America/Chicago", "70.112.1.0/24"},
	{"Seattle, WA, US", "America/Los_Angeles", "73.53.1.0/24"},
	{"Chicago, IL, US", "America/Chicago", "98.226.19.0/24"},
	{"Denver, CO, US", "America/Denver", "67.176.1.0/24"},
	{"New York, NY, US", "America/New_York", "72.229.1.0/24"},
	{"Raleigh, NC, US", "America/New_York", "174.109.17.0/24"},
	{"Atlanta, GA, US", "America/New_York", "73.207.1.0/24"},
}

const (
	farmPrefix       = "68.2.1.0/24"     // Phoenix, AZ
	vpnPrefix        = "146.70.35.0/24"  // M247, Amsterdam
	controllerPrefix = "113.224.1.0/24"  // China Unicom, Shenyang
	pyongyangPrefix  = "175.45.177.0/24" // Pyongyang
)

var firstNames = []string{"Alex", "Jordan", "Taylor", "Morgan", "Casey", "Riley", "Jamie", "Avery", "Quinn", "Drew",
	"Sam", "Robin", "Cameron", "Hayden", "Parker", "Reese", "Rowan", "Skyler", "Emerson", "Finley"}
var lastNames = []string{"Smith", "Johnson", "Brown", "Garcia", "Miller", "Davis", "Wilson", "Moore", "Clark", "Lewis",
	"Walker", "Young", "Allen", "King", "Wright", "Scott", "Green", "Baker", "Adams", "Nelson"}

// Plan lays out n devices with a scenario mix: one laptop farm (a tenth of
// the fleet, at least 3 devices, on one public IP, one gateway and one set of
// Wi-Fi BSSIDs, remote-controlled from China), one hire behind a VPN exit
// abroad, one hire whose remote-access tool has a peer in North Korea, and
// honest remote hires in several US cities for the rest.
func Plan(n int, seed uint64) *Fleet {
	if n < 6 {
		n = 6
	}
	f := &Fleet{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
	farmSize := max(3, n/10)
	farmIP := f.addrIn(farmPrefix)
	farmGW := f.mac(0x50, 0xc7, 0xbf) // a consumer router vendor prefix
	farmBSSID := f.mac(0x50, 0xc7, 0xbf)
	farmNearby := []string{f.mac(0x9c, 0x53, 0x22), f.mac(0xa0, 0x40, 0xa0)}
	for i := range n {
		h := homes[i%len(homes)]
		d := &Device{Scenario: Honest, OS: []string{"darwin", "windows", "darwin", "linux"}[i%4],
			TimeZone: h.zone, Gateway: "192.168.1.1", LocalIP: fmt.Sprintf("192.168.1.%d", 10+i%200),
			OnAC: i%3 == 0, Lid: "open"}
		d.Hire = f.hire(i, h.place)
		d.Hostname = fmt.Sprintf("%s-laptop-%04d", []string{"mbp", "win", "mbp", "ubuntu"}[i%4], i)
		switch {
		case i < farmSize:
			d.Scenario, d.Expected = Farm, true
			d.PublicIP, d.GatewayMA, d.SSID, d.BSSID, d.Nearby = farmIP, farmGW, "NETGEAR-5G", farmBSSID, farmNearby
			d.LocalIP = fmt.Sprintf("192.168.0.%d", 20+i)
			d.Gateway = "192.168.0.1"
			d.OnAC, d.Lid = true, "closed"
			d.Tools = []Tool{{ID: "anydesk", Name: "AnyDesk", Process: "AnyDesk", ListenPort: 7070,
				Peers: []netip.AddrPort{netip.AddrPortFrom(f.addrIn(controllerPrefix), 443)}}}
		case i == farmSize:
			d.Scenario, d.Expected = VPN, true
			d.PublicIP = f.addrIn(vpnPrefix)
			f.home(d, h)
		case i == farmSize+1:
			d.Scenario, d.Expected = ForeignController, true
			f.home(d, h)
			d.Tools = []Tool{{ID: "rustdesk", Name: "RustDesk", Process: "rustdesk", ListenPort: 21118,
				Peers: []netip.AddrPort{netip.AddrPortFrom(f.addrIn(pyongyangPrefix), 21116)}}}
		default:
			f.home(d, h)
		}
		f.Devices = append(f.Devices, d)
	}
	return f
}

// home puts a device on its own residential network in its claimed city.
func (f *Fleet) home(d *Device, h home) {
	if !d.PublicIP.IsValid() {
		d.PublicIP = f.addrIn(h.prefix)
	}
	d.GatewayMA = f.mac(0x3c, 0x37, 0x86)
	d.SSID = fmt.Sprintf("HOME-%04X", f.rng.IntN(0xffff))
	d.BSSID = f.mac(0x3c, 0x37, 0x86)
	d.Nearby = []string{f.mac(0x9c, 0x53, 0x22)}
}

func (f *Fleet) hire(i int, place string) *pb.Hire {
	first := firstNames[f.rng.IntN(len(firstNames))]
	last := lastNames[f.rng.IntN(len(lastNames))]
	return &pb.Hire{
		Id: fmt.Sprintf("sim-%05d", i), Name: first + " " + last,
		Email:       fmt.Sprintf("%s.%s.%d@example.com", lower(first), lower(last), i),
		ClaimedHome: place, ShippingAddress: fmt.Sprintf("%d Main St, %s", 100+i, place),
		Phone: fmt.Sprintf("+1 (512) 555-%04d", i%10000), StartDate: "2026-12-01",
	}
}

func (f *Fleet) addrIn(prefix string) netip.Addr {
	p := netip.MustParsePrefix(prefix)
	a := p.Addr().As4()
	host := f.rng.Uint32() & (1<<(32-p.Bits()) - 1)
	if host == 0 {
		host = 1
	}
	v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3]) | host
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

func (f *Fleet) mac(o1, o2, o3 byte) string {
	return fmt.Sprintf("%02x:%02x:%02x:%02x:%02x:%02x", o1, o2, o3, f.rng.IntN(256), f.rng.IntN(256), f.rng.IntN(256))
}

func macFor(host string) string {
	var h uint32 = 2166136261
	for i := 0; i < len(host); i++ {
		h = (h ^ uint32(host[i])) * 16777619
	}
	return fmt.Sprintf("a4:83:e7:%02x:%02x:%02x", byte(h>>16), byte(h>>8), byte(h))
}

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 32
		}
	}
	return string(b)
}
