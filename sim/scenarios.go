package sim

import (
	"fmt"
	"math/rand/v2"
	"net/netip"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// Scenario types: honest ones a reviewer must not be bothered with, and
// planted ones that must be caught.
const (
	Honest            = "honest"             // remote hire at home in a US city
	Traveller         = "traveller"          // honest hire on a trip to another US city
	CompanyVPN        = "company-vpn"        // honest hire on the company VPN (allowlisted egress)
	Roommates         = "roommates"          // two hires sharing one home and network
	FamilyWifi        = "family-wifi"        // a couple of hires in neighbouring towns on the family network
	MobileCGNAT       = "mobile-cgnat"       // hires in different cities behind one carrier address
	Nomad             = "nomad"              // a hire who declared a move abroad
	NightOwl          = "night-owl"          // an honest hire who works late
	Farm              = "farm"               // a laptop farm of 3 (the demo's farm)
	BigFarm           = "farm-10"            // a laptop farm of 10
	IPKVM             = "ip-kvm"             // an IP-KVM plugged into the laptop
	ForeignController = "foreign-controller" // AnyDesk/RustDesk driven from China or North Korea
	KoreaHours        = "korea-hours"        // US IP, local input in Seoul's working day
	VPN               = "vpn-tz"             // VPN exit abroad and a Seoul time zone
)

// Bad tells whether a scenario type is one a reviewer must see.
func Bad(scenario string) bool {
	switch scenario {
	case Farm, BigFarm, IPKVM, ForeignController, KoreaHours, VPN:
		return true
	}
	return false
}

// home is a claimed home and the residential network the simulator places
// a hire on there (prefixes of geotest.DemoNetworks).
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
	mobilePrefix     = "172.56.23.0/24"  // T-Mobile, Dallas
	companyPrefix    = "198.51.100.0/24" // the company's VPN egress in the suite (documentation range)
	lisbonPrefix     = "2001:8a0::/32"   // MEO, Lisbon (IPv6)
)

// CompanyEgress is the company VPN egress the suite's collector allowlists.
const CompanyEgress = companyPrefix

var workday = []int{9, 10, 11, 12, 13, 14, 15, 16, 17}

var firstNames = []string{"Alex", "Jordan", "Taylor", "Morgan", "Casey", "Riley", "Jamie", "Avery", "Quinn", "Drew",
	"Sam", "Robin", "Cameron", "Hayden", "Parker", "Reese", "Rowan", "Skyler", "Emerson", "Finley"}
var lastNames = []string{"Smith", "Johnson", "Brown", "Garcia", "Miller", "Davis", "Wilson", "Moore", "Clark", "Lewis",
	"Walker", "Young", "Allen", "King", "Wright", "Scott", "Green", "Baker", "Adams", "Nelson"}

// Plan lays out n devices for the demo and load tests: one laptop farm (a
// tenth of the fleet, at least 3 devices, on one public IP, one gateway and
// one Wi-Fi network, remote-controlled from China), a hire behind a VPN exit
// abroad, a hire whose remote-access tool has a peer in North Korea, an
// IP-KVM, and honest remote hires in several US cities for the rest.
func Plan(n int, seed uint64) *Fleet {
	n = max(n, 8)
	f := newFleet(seed)
	f.addFarm(Farm, max(3, n/10))
	f.addVPN()
	f.addForeign(pyongyangPrefix, "rustdesk", "RustDesk", "rustdesk", 21118)
	f.addIPKVM()
	for len(f.Devices) < n {
		f.addHonest(Honest, homes[len(f.Devices)%len(homes)])
	}
	return f
}

// Suite lays out one group of every scenario type, for the labelled
// scenario test.
func Suite(seed uint64) *Fleet {
	f := newFleet(seed)
	for i := 0; i < 4; i++ {
		f.addHonest(Honest, homes[i%len(homes)])
	}
	f.addTraveller()
	f.addCompanyVPN()
	f.addRoommates()
	f.addFamily()
	f.addMobile()
	f.addNomad()
	f.addNightOwl()
	f.addFarm(Farm, 3)
	f.addFarm(BigFarm, 10)
	f.addIPKVM()
	f.addForeign(controllerPrefix, "anydesk", "AnyDesk", "AnyDesk", 7070)
	f.addKoreaHours()
	f.addVPN()
	return f
}

func newFleet(seed uint64) *Fleet {
	return &Fleet{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

// device makes a device for a new hire claiming h, at home on its own network.
func (f *Fleet) device(scenario string, h home) *Device {
	i := len(f.Devices)
	d := &Device{Scenario: scenario, Expected: Bad(scenario), OS: []string{"darwin", "windows", "darwin", "linux"}[i%4],
		Hostname: fmt.Sprintf("%s-laptop-%04d", []string{"mbp", "win", "mbp", "ubuntu"}[i%4], i),
		TimeZone: h.zone, HomeZone: h.zone, ActiveHours: workday, Gateway: "192.168.1.1",
		LocalIP: fmt.Sprintf("192.168.1.%d", 10+i%200), Lid: "open", Battery: true}
	d.Hire = f.hire(i, h.place)
	d.PublicIP = f.addrIn(h.prefix)
	d.GatewayMA = f.mac(0x3c, 0x37, 0x86)
	d.SSID = fmt.Sprintf("HOME-%04X", f.rng.IntN(0xffff))
	d.BSSID = f.mac(0x3c, 0x37, 0x86)
	d.Nearby = []string{f.mac(0x9c, 0x53, 0x22)}
	f.Devices = append(f.Devices, d)
	return d
}

func (f *Fleet) addHonest(scenario string, h home) *Device { return f.device(scenario, h) }

// addTraveller: an Austin hire at a conference in New York on days 1-2; the
// laptop's clock follows.
func (f *Fleet) addTraveller() {
	d := f.device(Traveller, homes[0])
	d.Trip = &Trip{FromDay: 1, ToDay: 2, IP: f.addrIn(homes[4].prefix), Zone: homes[4].zone}
}

// addCompanyVPN: every connection leaves through the company's VPN egress.
func (f *Fleet) addCompanyVPN() {
	d := f.device(CompanyVPN, homes[1])
	d.PublicIP = f.addrIn(companyPrefix)
	d.VPNInterface = "gpd0"
}

// addRoommates: two hires, one claimed home, one network.
func (f *Fleet) addRoommates() {
	a := f.device(Roommates, homes[2])
	b := f.device(Roommates, homes[2])
	b.Hire.ClaimedHome = a.Hire.GetClaimedHome()
	b.PublicIP, b.GatewayMA, b.SSID, b.BSSID = a.PublicIP, a.GatewayMA, a.SSID, a.BSSID
}

// addFamily: a couple of hires who gave neighbouring towns (Raleigh and
// Durham, 35 km apart) and share the family Wi-Fi.
func (f *Fleet) addFamily() {
	a := f.device(FamilyWifi, homes[5])
	b := f.device(FamilyWifi, homes[5])
	b.Hire.ClaimedHome = "Durham, NC, US"
	b.PublicIP, b.GatewayMA, b.SSID, b.BSSID = a.PublicIP, a.GatewayMA, a.SSID, a.BSSID
}

// addMobile: hires in Austin and Houston on phone hotspots that the carrier
// puts behind one address in Dallas.
func (f *Fleet) addMobile() {
	ip := f.addrIn(mobilePrefix)
	a := f.device(MobileCGNAT, homes[0])
	b := f.device(MobileCGNAT, home{"Houston, TX, US", "America/Chicago", homes[0].prefix})
	for _, d := range []*Device{a, b} {
		d.PublicIP = ip
		d.Gateway, d.GatewayMA = "172.20.10.1", f.mac(0x02, 0x0f, 0xb5)
		d.SSID, d.BSSID = "iPhone", f.mac(0x02, 0x0f, 0xb5)
		d.Nearby = nil
	}
}

// addNomad: an Atlanta hire who declares a move to Lisbon on day 2 and
// reports from there afterwards.
func (f *Fleet) addNomad() {
	d := f.device(Nomad, homes[6])
	d.Move = &Move{Day: 2, IP: f.addrIn(lisbonPrefix), Zone: "Europe/Lisbon", NewHome: "Lisbon, PT"}
}

// addNightOwl: works 17:00-02:00 at home.
func (f *Fleet) addNightOwl() {
	d := f.device(NightOwl, homes[4])
	d.ActiveHours = []int{17, 18, 19, 20, 21, 22, 23, 0, 1}
}

// addFarm: size laptops of hires claiming homes across the US, on the
// shelves of one house in Phoenix: one public IP, one router, one Wi-Fi
// network; plugged in, lids closed, driven over AnyDesk from Shenyang.
func (f *Fleet) addFarm(scenario string, size int) {
	ip := f.addrIn(farmPrefix)
	gw, bssid := f.mac(0x50, 0xc7, 0xbf), f.mac(0x50, 0xc7, 0xbf)
	nearby := []string{f.mac(0x9c, 0x53, 0x22), f.mac(0xa0, 0x40, 0xa0)}
	controller := f.addrIn(controllerPrefix)
	for i := 0; i < size; i++ {
		d := f.device(scenario, homes[(len(f.Devices)+i)%len(homes)])
		d.PublicIP, d.GatewayMA, d.SSID, d.BSSID, d.Nearby = ip, gw, "NETGEAR-5G", bssid, nearby
		d.Gateway, d.LocalIP = "192.168.0.1", fmt.Sprintf("192.168.%d.%d", i/200, 20+i%200) // a /16 LAN past 200 laptops
		d.OnAC, d.Lid, d.ActiveHours = true, "closed", nil
		d.Tools = []Tool{{ID: "anydesk", Name: "AnyDesk", Process: "AnyDesk", ListenPort: 7070,
			Peers: []netip.AddrPort{netip.AddrPortFrom(controller, 443)}}}
	}
}

// addIPKVM: a PiKVM on the laptop's USB and HDMI, at the hire's claimed home.
func (f *Fleet) addIPKVM() {
	d := f.device(IPKVM, homes[3])
	d.OnAC, d.Lid, d.ActiveHours = true, "closed", nil
	d.USB = []*pb.USBDevice{{VendorId: "1d6b", ProductId: "0104", Manufacturer: "PiKVM", Product: "Composite KVM Device",
		Flagged: "ip-kvm", Confidence: "high", MatchReason: "manufacturer \"PiKVM\" on the Linux composite gadget 1d6b:0104"}}
	d.Displays = []*pb.Display{{Connector: "HDMI-1", Vendor: "LNX", Name: "PiKVM", Flagged: "ip-kvm"}}
}

// addForeign: a remote-access tool connected to a controller abroad.
func (f *Fleet) addForeign(prefix, id, name, process string, port uint32) {
	d := f.device(ForeignController, homes[len(f.Devices)%len(homes)])
	d.Tools = []Tool{{ID: id, Name: name, Process: process, ListenPort: port,
		Peers: []netip.AddrPort{netip.AddrPortFrom(f.addrIn(prefix), 443)}}}
}

// addKoreaHours: at home on a US address, but the keyboard is busy during
// Seoul's working day.
func (f *Fleet) addKoreaHours() {
	d := f.device(KoreaHours, homes[4])
	d.ActiveZone = "Asia/Seoul"
}

// addVPN: a VPN to an exit abroad and a laptop clock on Seoul time.
func (f *Fleet) addVPN() {
	d := f.device(VPN, homes[len(f.Devices)%len(homes)])
	d.PublicIP = f.addrIn(vpnPrefix)
	d.VPNInterface = "utun4"
	d.TimeZone, d.ActiveZone = "Asia/Seoul", "Asia/Seoul"
}

func (f *Fleet) hire(i int, place string) *pb.Hire {
	first := firstNames[f.rng.IntN(len(firstNames))]
	last := lastNames[f.rng.IntN(len(lastNames))]
	return &pb.Hire{
		Id: fmt.Sprintf("sim-%05d", i), Name: first + " " + last,
		Email:       fmt.Sprintf("%s.%s.%d@example.com", lower(first), lower(last), i),
		ClaimedHome: place, ShippingAddress: fmt.Sprintf("%d Main St, %s", 100+i, place),
		Phone: fmt.Sprintf("(512) 555-%04d", i%10000), StartDate: "2026-12-01",
	}
}

func (f *Fleet) addrIn(prefix string) netip.Addr {
	p := netip.MustParsePrefix(prefix)
	a := p.Addr().AsSlice()
	hostBits := a
	for i := range hostBits {
		bitPos := i * 8
		if bitPos+8 <= p.Bits() {
			continue
		}
		r := byte(f.rng.IntN(256))
		if bitPos < p.Bits() {
			keep := byte(0xff << (8 - (p.Bits() - bitPos)))
			r = (a[i] & keep) | (r &^ keep)
		}
		hostBits[i] = r
	}
	if hostBits[len(hostBits)-1] == 0 {
		hostBits[len(hostBits)-1] = 1
	}
	out, _ := netip.AddrFromSlice(hostBits)
	return out
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
