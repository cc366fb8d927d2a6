package sim

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"time"

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
	NightShift        = "night-shift"        // an honest hire who works nights, the laptop asleep plugged in by day
	OnboardingVenue   = "onboarding-venue"   // two hires at a two-day onboarding at headquarters
	Farm              = "farm"               // a laptop farm of 3 (the demo's farm)
	BigFarm           = "farm-10"            // a laptop farm of 10
	FarmHotspot       = "farm-hotspot"       // a farm of 3, one member a day on a phone's hotspot
	FarmIPOnly        = "farm-ip-only"       // a farm of 3 behind per-laptop routers, sharing only a home line's IP
	FarmNeighbours    = "farm-neighbours"    // a farm of 3 behind per-laptop routers on hotspots, seeing the same Wi-Fi networks
	IPKVM             = "ip-kvm"             // an IP-KVM plugged into the laptop
	ForeignController = "foreign-controller" // AnyDesk/RustDesk driven from China or North Korea
	Intermittent      = "intermittent-controller"
	Relayed           = "relayed-controller" // a controller abroad behind a VPN exit near the laptop: long round trips
	KoreaHours        = "korea-hours"        // US IP, local input in Seoul's working day, Korean input method
	VPN               = "vpn-tz"             // VPN exit abroad and a Seoul time zone
	ClockDisguise     = "clock-disguise"     // a laptop elsewhere with its clock set to the claimed home's zone
)

// Bad tells whether a scenario type is one a reviewer must see.
func Bad(scenario string) bool {
	switch scenario {
	case Farm, BigFarm, FarmHotspot, FarmIPOnly, FarmNeighbours, IPKVM, ForeignController, Intermittent, Relayed,
		KoreaHours, VPN, ClockDisguise:
		return true
	}
	return false
}

// Farmlike tells whether a planted scenario is a farm that must be in a farm alert.
func Farmlike(scenario string) bool {
	switch scenario {
	case Farm, BigFarm, FarmHotspot, FarmIPOnly, FarmNeighbours:
		return true
	}
	return false
}

// detectBy is the suite hour by which a planted case must be at review:
// farms and signs a single report shows within two report intervals (of
// an hourly fleet), an intermittent controller after its first session,
// patterns over hours and days once they can show.
var detectBy = map[string]int{Farm: 2, BigFarm: 2, FarmHotspot: 2, FarmIPOnly: 2, FarmNeighbours: 2, IPKVM: 1,
	ForeignController: 1, Intermittent: 5, Relayed: 1, VPN: 1, ClockDisguise: 38, KoreaHours: 76}

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
	phoenixPrefix    = "68.2.2.0/24"     // another house in Phoenix
	attHomePrefix    = "99.57.1.0/24"    // AT&T home internet, San Antonio, TX
	usVPNPrefix      = "23.230.105.0/24" // M247, Santa Clara, CA
	vpnPrefix        = "146.70.35.0/24"  // M247, Amsterdam
	controllerPrefix = "113.224.1.0/24"  // China Unicom, Shenyang
	pyongyangPrefix  = "175.45.177.0/24" // Pyongyang
	mobilePrefix     = "172.56.23.0/24"  // T-Mobile, Dallas
	companyPrefix    = "198.51.100.0/24" // the company's VPN egress in the suite (documentation range)
	lisbonPrefix     = "2001:8a0::/32"   // MEO, Lisbon (IPv6)
)

// CompanyEgress is the company VPN egress the suite's collector allowlists;
// OfficeBSSID and OfficeGateway are its headquarters' Wi-Fi and router.
const (
	CompanyEgress = companyPrefix
	OfficeBSSID   = "00:1a:1e:40:10:01"
	OfficeGateway = "00:1a:1e:40:00:01"
)

// Suite timeline, in suite hours from the start: the trips and the
// onboarding week's flights.
const (
	tripFrom, tripTo = 24, 71 // away on days 1 and 2
	flightOut        = 18     // offline from here to tripFrom-1
	flightBack       = 72     // offline from here for 6 hours
)

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
	f.addNightShift()
	f.addOnboarding()
	f.addFarm(Farm, 3)
	f.addFarm(BigFarm, 10)
	f.addFarmHotspot()
	f.addFarmIPOnly()
	f.addFarmNeighbours()
	f.addIPKVM()
	f.addForeign(controllerPrefix, "anydesk", "AnyDesk", "AnyDesk", 7070)
	f.addIntermittent()
	f.addRelayed()
	f.addKoreaHours()
	f.addVPN()
	f.addClockDisguise()
	return f
}

func newFleet(seed uint64) *Fleet {
	return &Fleet{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

// device makes a device for a new hire claiming h, at home on its own network.
func (f *Fleet) device(scenario string, h home) *Device {
	i := len(f.Devices)
	d := &Device{Scenario: scenario, Expected: Bad(scenario), DetectBy: detectBy[scenario], OS: []string{"darwin", "windows", "darwin", "linux"}[i%4],
		Hostname: fmt.Sprintf("%s-laptop-%04d", []string{"mbp", "win", "mbp", "ubuntu"}[i%4], i),
		TimeZone: h.zone, HomeZone: h.zone, ActiveHours: workday, Gateway: "192.168.1.1",
		LocalIP: fmt.Sprintf("192.168.1.%d", 10+i%200), Lid: "open", Battery: true, SleepsPlugged: true}
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

// addTraveller: an Austin hire at a conference in New York on days 1-2,
// flying there and back; the laptop's clock follows.
func (f *Fleet) addTraveller() {
	d := f.device(Traveller, homes[0])
	d.Away = []Away{{From: tripFrom, To: tripTo, Network: f.hotel(homes[4])}}
	d.Offline = [][2]int{{flightOut, tripFrom - 1}, {flightBack, flightBack + 5}}
}

// hotel is a hotel's network in a home's city.
func (f *Fleet) hotel(h home) Network {
	return Network{IP: f.addrIn(h.prefix), Zone: h.zone, Gateway: "10.20.0.1", GatewayMAC: f.mac(0x00, 0x0b, 0x86),
		SSID: "Hotel-Guest", BSSID: f.mac(0x00, 0x0b, 0x86), Nearby: []string{f.mac(0x00, 0x0b, 0x86), f.mac(0x00, 0x0b, 0x86)},
		LocalIP: "10.20.4.17"}
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

// addNomad: an Atlanta hire who declares a move to Lisbon on day 2, flies
// there and reports from there afterwards.
func (f *Fleet) addNomad() {
	d := f.device(Nomad, homes[6])
	lisbon := Network{IP: f.addrIn(lisbonPrefix), Zone: "Europe/Lisbon", Gateway: "192.168.1.254", GatewayMAC: f.mac(0x3c, 0x37, 0x86),
		SSID: "MEO-LISBOA", BSSID: f.mac(0x3c, 0x37, 0x86), LocalIP: "192.168.1.64"}
	d.Away = []Away{{From: 48, To: 1 << 30, Network: lisbon}}
	d.Offline = [][2]int{{39, 47}}
	d.Update = &HireUpdate{Hour: 48, ClaimedHome: "Lisbon, PT"}
}

// addNightOwl: works 17:00-02:00 at home.
func (f *Fleet) addNightOwl() {
	d := f.device(NightOwl, homes[4])
	d.ActiveHours = []int{17, 18, 19, 20, 21, 22, 23, 0, 1}
}

// addNightShift: works 22:00-07:00 at home; by day the laptop sleeps on
// its charger with the lid closed (and reports).
func (f *Fleet) addNightShift() {
	d := f.device(NightShift, homes[2])
	d.ActiveHours = []int{22, 23, 0, 1, 2, 3, 4, 5, 6}
}

// addOnboarding: two hires (Denver and Chicago) at a two-day onboarding at
// headquarters in San Francisco: the office's Wi-Fi and router (both
// allowlisted), the company's egress, the same neighbouring networks.
func (f *Fleet) addOnboarding() {
	nearby := []string{f.mac(0x00, 0x17, 0x88), f.mac(0x00, 0x17, 0x88), f.mac(0x00, 0x17, 0x88)}
	for _, h := range []home{homes[3], homes[2]} {
		d := f.device(OnboardingVenue, h)
		d.Away = []Away{{From: tripFrom, To: tripTo, Network: Network{IP: f.addrIn(companyPrefix), Zone: "America/Los_Angeles",
			Gateway: "10.1.0.1", GatewayMAC: OfficeGateway, SSID: "Corp", BSSID: OfficeBSSID, Nearby: nearby,
			LocalIP: fmt.Sprintf("10.1.%d.%d", len(f.Devices), 20)}}}
		d.Offline = [][2]int{{flightOut, tripFrom - 1}, {flightBack, flightBack + 5}}
	}
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
		f.shelve(d, controller)
	}
}

// addFarmHotspot: a farm of 3 in Phoenix; on the last day one member runs
// on a phone's hotspot (a carrier's shared address in Dallas).
func (f *Fleet) addFarmHotspot() {
	f.addFarm(FarmHotspot, 3)
	d := f.Devices[len(f.Devices)-1]
	d.Away = []Away{{From: 100, To: 119, Network: Network{IP: f.addrIn(mobilePrefix), Zone: d.TimeZone, Gateway: "172.20.10.1",
		GatewayMAC: f.mac(0x02, 0x0f, 0xb5), SSID: "iPhone", BSSID: f.mac(0x02, 0x0f, 0xb5), LocalIP: "172.20.10.3"}}}
}

// addFarmIPOnly: a farm of 3 in San Antonio whose laptops each sit behind
// their own travel router, wired (no Wi-Fi scan), on one AT&T home line:
// the public IP is all they share.
func (f *Fleet) addFarmIPOnly() {
	ip := f.addrIn(attHomePrefix)
	controller := f.addrIn(controllerPrefix)
	for i := 0; i < 3; i++ {
		d := f.device(FarmIPOnly, homes[(len(f.Devices)+i)%len(homes)])
		d.PublicIP, d.Gateway, d.GatewayMA = ip, "192.168.8.1", f.mac(0x94, 0x83, 0xc4)
		d.SSID, d.BSSID, d.Nearby, d.LocalIP = "", "", nil, "192.168.8.100"
		d.TimeZone = "America/Chicago"
		f.shelve(d, controller)
	}
}

// addFarmNeighbours: a farm of 3 whose laptops each sit behind their own
// travel router with its own hotspot uplink: no router, Wi-Fi network or
// usable public IP in common, but the same neighbouring networks.
func (f *Fleet) addFarmNeighbours() {
	nearby := []string{f.mac(0x9c, 0x53, 0x22), f.mac(0xa0, 0x40, 0xa0), f.mac(0x00, 0x1d, 0x7e)}
	controller := f.addrIn(controllerPrefix)
	for i := 0; i < 3; i++ {
		d := f.device(FarmNeighbours, homes[(len(f.Devices)+i)%len(homes)])
		d.PublicIP, d.Gateway, d.GatewayMA = f.addrIn(mobilePrefix), "192.168.8.1", f.mac(0x94, 0x83, 0xc4)
		d.SSID, d.BSSID, d.Nearby, d.LocalIP = fmt.Sprintf("GL-MT3000-%03d", i), f.mac(0x94, 0x83, 0xc4), nearby, "192.168.8.100"
		d.TimeZone = "America/Phoenix"
		f.shelve(d, controller)
	}
}

// shelve makes a laptop a farm's: plugged in, lid closed, nobody typing,
// driven over AnyDesk from abroad.
func (f *Fleet) shelve(d *Device, controller netip.Addr) {
	d.OnAC, d.Lid, d.ActiveHours, d.SleepsPlugged = true, "closed", nil, false
	d.Tools = []Tool{{ID: "anydesk", Name: "AnyDesk", Process: "AnyDesk", ListenPort: 7070,
		Peers: []netip.AddrPort{netip.AddrPortFrom(controller, 443)}}}
}

// addIPKVM: a PiKVM on the laptop's USB and HDMI, at the hire's claimed home.
func (f *Fleet) addIPKVM() {
	d := f.device(IPKVM, homes[3])
	d.OnAC, d.Lid, d.ActiveHours, d.SleepsPlugged = true, "closed", nil, false
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

// addIntermittent: RustDesk runs always, but its controller in Pyongyang
// connects only from 10:00 to 13:00 Pyongyang time (01:00-03:59 UTC).
func (f *Fleet) addIntermittent() {
	d := f.device(Intermittent, homes[len(f.Devices)%len(homes)])
	d.Tools = []Tool{{ID: "rustdesk", Name: "RustDesk", Process: "rustdesk", ListenPort: 21118,
		Peers: []netip.AddrPort{netip.AddrPortFrom(f.addrIn(pyongyangPrefix), 21117)}, PeerHours: []int{1, 2, 3}}}
}

// addRelayed: AnyDesk driven from Shenyang through an IP-level VPN whose
// exit is in California: the peer's address is 1,500 km from the laptop in
// Denver, its round trip that of the Pacific.
func (f *Fleet) addRelayed() {
	d := f.device(Relayed, homes[3])
	d.Tools = []Tool{{ID: "anydesk", Name: "AnyDesk", Process: "AnyDesk", ListenPort: 7070,
		Peers: []netip.AddrPort{netip.AddrPortFrom(f.addrIn(usVPNPrefix), 443)}, RTT: 235 * time.Millisecond}}
}

// addKoreaHours: at home on a US address, but the keyboard is busy during
// Seoul's working day, in Korean.
func (f *Fleet) addKoreaHours() {
	d := f.device(KoreaHours, homes[4])
	d.ActiveZone = "Asia/Seoul"
	d.InputLanguages = []string{"ko"}
}

// addVPN: a VPN to an exit abroad and a laptop clock on Seoul time.
func (f *Fleet) addVPN() {
	d := f.device(VPN, homes[len(f.Devices)%len(homes)])
	d.PublicIP = f.addrIn(vpnPrefix)
	d.VPNInterface = "utun4"
	d.TimeZone, d.ActiveZone = "Asia/Seoul", "Asia/Seoul"
}

// addClockDisguise: a New York hire's laptop on a shelf in a house in
// Phoenix, with AnyDesk running and its clock set to New York time.
func (f *Fleet) addClockDisguise() {
	d := f.device(ClockDisguise, homes[4])
	d.PublicIP = f.addrIn(phoenixPrefix)
	d.OnAC, d.Lid, d.ActiveHours, d.SleepsPlugged = true, "closed", nil, false
	d.Tools = []Tool{{ID: "anydesk", Name: "AnyDesk", Process: "AnyDesk", ListenPort: 7070}}
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
