// Package sim is the fleet simulator: it speaks the real agent protocol
// (enrollment with one-time tokens, mutual TLS, batched reports) for many
// simulated laptops, each placed at a public IP the way a pass-through load
// balancer places a client: a PROXY protocol header at the start of each
// connection, which the collector believes from its --trusted-proxy
// addresses only. The demo, the end-to-end tests and the load tests use it.
package sim

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/farmwatch/farmwatch/agent/uplink"
	"github.com/farmwatch/farmwatch/collector/hires"
	"github.com/farmwatch/farmwatch/collector/store"
	"github.com/farmwatch/farmwatch/geo"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// Device is one simulated laptop.
type Device struct {
	Hire     *pb.Hire
	Scenario string
	// Expected says whether a reviewer should see it; DetectBy is the suite
	// hour by which it must be at review (planted devices only).
	Expected  bool
	DetectBy  int
	PublicIP  netip.Addr
	Hostname  string
	OS        string
	TimeZone  string // the laptop's clock
	HomeZone  string // the claimed home's zone
	Gateway   string
	GatewayMA string
	SSID      string
	BSSID     string
	Nearby    []string
	LocalIP   string
	Tools     []Tool
	OnAC      bool
	Battery   bool
	Lid       string
	// ActiveHours are the local hours (in ActiveZone, or TimeZone when
	// empty) in which someone types on the laptop; none for a laptop on a
	// shelf. Outside them an honest laptop sleeps on mains power, lid
	// closed, when SleepsPlugged is set.
	ActiveHours    []int
	ActiveZone     string
	SleepsPlugged  bool
	InputLanguages []string
	VPNInterface   string
	USB            []*pb.USBDevice
	Displays       []*pb.Display
	// Away are the hours the laptop spends on another network: a trip, an
	// office, a phone's hotspot. Offline are hours it sends nothing (a
	// flight). Update changes the hire record at an hour (a declared move).
	Away    []Away
	Offline [][2]int
	Update  *HireUpdate

	token    string
	identity *uplink.Identity
	// conns holds one connection per public IP the device has reported
	// from, as a laptop has one per network it joins.
	conns map[netip.Addr]*uplink.Conn
	seq   uint64
}

// Away puts a device on another network for the suite hours [From, To].
type Away struct {
	From, To int
	Network
}

// Network is where a laptop is: the public IP the collector sees, its
// clock's zone, and the LAN and Wi-Fi it is on.
type Network struct {
	IP                    netip.Addr
	Zone                  string
	Gateway, GatewayMAC   string
	SSID, BSSID           string
	Nearby                []string
	LocalIP               string
	Online, KeepHomeClock bool
}

// HireUpdate is a change to the hire record at a suite hour: a declared move.
type HireUpdate struct {
	Hour        int
	ClaimedHome string
}

// At returns where the device is in a suite hour.
func (d *Device) At(hour int) Network {
	n := Network{IP: d.PublicIP, Zone: d.TimeZone, Gateway: d.Gateway, GatewayMAC: d.GatewayMA, SSID: d.SSID, BSSID: d.BSSID,
		Nearby: d.Nearby, LocalIP: d.LocalIP, Online: true}
	for _, a := range d.Away {
		if hour >= a.From && hour <= a.To {
			n = a.Network
			n.Online = true
			if n.Zone == "" || a.KeepHomeClock {
				n.Zone = d.TimeZone
			}
		}
	}
	for _, o := range d.Offline {
		if hour >= o[0] && hour <= o[1] {
			n.Online = false
		}
	}
	return n
}

// Tool is a remote-access tool running on a simulated laptop.
type Tool struct {
	ID, Name, Process string
	ListenPort        uint32
	Peers             []netip.AddrPort
	// PeerHours are the UTC hours in which the peers are connected (none:
	// always); RTT the round trip the laptop's OS measures on those
	// connections (0: not measured).
	PeerHours []int
	RTT       time.Duration
}

// ID is the device id the collector gave at enrollment.
func (d *Device) ID() string {
	if d.identity == nil {
		return ""
	}
	return d.identity.DeviceID
}

// Fleet is a set of simulated devices.
type Fleet struct {
	Devices []*Device
	rng     *rand.Rand
}

// Register adds the fleet's hires and creates one enrollment token each.
func (f *Fleet) Register(ctx context.Context, admin pb.AdminServiceClient) error {
	hires := make([]*pb.Hire, 0, len(f.Devices))
	for _, d := range f.Devices {
		hires = append(hires, d.Hire)
	}
	for start := 0; start < len(hires); start += 1000 {
		end := min(start+1000, len(hires))
		if _, err := admin.AddHires(ctx, &pb.AddHiresRequest{Hires: hires[start:end]}); err != nil {
			return fmt.Errorf("add hires: %w", err)
		}
	}
	for _, d := range f.Devices {
		t, err := admin.CreateToken(ctx, &pb.CreateTokenRequest{HireId: d.Hire.GetId()})
		if err != nil {
			return fmt.Errorf("token for %s: %w", d.Hire.GetId(), err)
		}
		d.token = t.GetToken()
	}
	return nil
}

// Enroll enrolls every device with its token (concurrency at a time), from
// its home public IP. Its mutual-TLS connections open with its first report
// from each address.
func (f *Fleet) Enroll(ctx context.Context, collector, caFingerprint string, concurrency int) error {
	return f.each(concurrency, func(d *Device) error {
		id, _, err := uplink.Enroll(ctx, uplink.EnrollOptions{Collector: collector, Token: d.token,
			CAFingerprint: caFingerprint, Hostname: d.Hostname, OS: d.OS, AgentVersion: "sim",
			DialOptions: []grpc.DialOption{ViaProxy(d.PublicIP)}})
		if err != nil {
			return fmt.Errorf("enroll %s: %w", d.Hostname, err)
		}
		d.identity = id
		return nil
	})
}

// SendStats count what a Send round did.
type SendStats struct {
	Reports   int
	Acked     int
	Latencies []time.Duration
}

// Send makes every device deliver `batch` new reports taken at now in one
// call, at most concurrency devices at a time.
func (f *Fleet) Send(ctx context.Context, now time.Time, batch, concurrency int) (SendStats, error) {
	return f.send(concurrency, func(d *Device) ([]*pb.Report, netip.Addr) {
		reports := make([]*pb.Report, 0, batch)
		for range batch {
			d.seq++
			reports = append(reports, d.Report(d.seq, now, 0))
		}
		return reports, d.PublicIP
	}, ctx)
}

// SendDay makes every device deliver one report per hour of day (which
// starts at start, suite hour 24*day), as an agent that spooled them would,
// each from where the device was that hour.
func (f *Fleet) SendDay(ctx context.Context, day int, start time.Time, concurrency int) (SendStats, error) {
	var total SendStats
	for h := range 24 {
		st, err := f.SendHour(ctx, 24*day+h, start.Add(time.Duration(h)*time.Hour), time.Hour, concurrency)
		total.Reports += st.Reports
		total.Acked += st.Acked
		total.Latencies = append(total.Latencies, st.Latencies...)
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// SendAt makes every device that is online in the suite hour deliver one
// report taken at `at`, at once, from where it is: an agent at its
// interval.
func (f *Fleet) SendAt(ctx context.Context, hour int, at time.Time, concurrency int) (SendStats, error) {
	return f.send(concurrency, func(d *Device) ([]*pb.Report, netip.Addr) {
		n := d.At(hour)
		if !n.Online {
			return nil, n.IP
		}
		d.seq++
		return []*pb.Report{d.Report(d.seq, at, hour)}, n.IP
	}, ctx)
}

// SendHour makes every device that is online in the suite hour (which
// starts at start) deliver the reports its agent took in it, one every
// cadence, in one call, from where it is.
func (f *Fleet) SendHour(ctx context.Context, hour int, start time.Time, cadence time.Duration, concurrency int) (SendStats, error) {
	if cadence <= 0 || cadence > time.Hour {
		cadence = time.Hour
	}
	return f.send(concurrency, func(d *Device) ([]*pb.Report, netip.Addr) {
		n := d.At(hour)
		if !n.Online {
			return nil, n.IP
		}
		var reports []*pb.Report
		for at := start; at.Before(start.Add(time.Hour)); at = at.Add(cadence) {
			d.seq++
			reports = append(reports, d.Report(d.seq, at, hour))
		}
		return reports, n.IP
	}, ctx)
}

func (f *Fleet) send(concurrency int, build func(*Device) ([]*pb.Report, netip.Addr), ctx context.Context) (SendStats, error) {
	var mu sync.Mutex
	var st SendStats
	err := f.each(concurrency, func(d *Device) error {
		reports, ip := build(d)
		if len(reports) == 0 {
			return nil
		}
		start := time.Now()
		resp, err := d.SendFrom(ctx, ip, reports)
		lat := time.Since(start)
		if err != nil {
			return fmt.Errorf("device %s: %w", d.ID(), err)
		}
		mu.Lock()
		st.Reports += len(reports)
		st.Acked += len(resp.GetAcknowledged())
		st.Latencies = append(st.Latencies, lat)
		mu.Unlock()
		return nil
	})
	return st, err
}

// Send delivers reports as this device, from its home public IP.
func (d *Device) Send(ctx context.Context, reports []*pb.Report) (*pb.ReportResponse, error) {
	return d.SendFrom(ctx, d.PublicIP, reports)
}

// SendFrom delivers reports as this device from ip, on the device's
// connection from that address (opened with a PROXY header naming ip, as a
// trusted load balancer names a client). A device is used by one goroutine
// at a time.
func (d *Device) SendFrom(ctx context.Context, ip netip.Addr, reports []*pb.Report) (*pb.ReportResponse, error) {
	if d.identity == nil {
		return nil, fmt.Errorf("device %s is not enrolled", d.Hostname)
	}
	conn := d.conns[ip]
	if conn == nil {
		var err error
		if conn, err = uplink.Dial(d.identity, ViaProxy(ip)); err != nil {
			return nil, err
		}
		if d.conns == nil {
			d.conns = map[netip.Addr]*uplink.Conn{}
		}
		d.conns[ip] = conn
	}
	return conn.Send(ctx, reports)
}

// Moves applies the hire-record updates due on day through the admin API.
func (f *Fleet) Moves(ctx context.Context, admin pb.AdminServiceClient, day int) error {
	return f.Updates(ctx, admin, 24*day, 24*day+23)
}

// Updates applies the hire-record updates due in suite hours [from, to]
// through the admin API, as HR would on a declared move.
func (f *Fleet) Updates(ctx context.Context, admin pb.AdminServiceClient, from, to int) error {
	for _, d := range f.Devices {
		u := d.Update
		if u == nil || u.Hour < from || u.Hour > to {
			continue
		}
		h := proto.Clone(d.Hire).(*pb.Hire)
		h.ClaimedHome = u.ClaimedHome
		h.ShippingAddress = ""
		if _, err := admin.UpdateHire(ctx, &pb.UpdateHireRequest{Hire: h, Note: "declared move"}); err != nil {
			return fmt.Errorf("move %s: %w", d.Hire.GetId(), err)
		}
	}
	return nil
}

// Close closes every connection.
func (f *Fleet) Close() {
	for _, d := range f.Devices {
		for _, c := range d.conns {
			c.Close()
		}
		d.conns = nil
	}
}

func (f *Fleet) each(concurrency int, fn func(*Device) error) error {
	if concurrency <= 0 {
		concurrency = 16
	}
	sem := make(chan struct{}, concurrency)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	for _, d := range f.Devices {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := fn(d); err != nil {
				mu.Lock()
				if first == nil {
					first = err
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return first
}

// Report builds the snapshot this device's agent would take at `at`, in
// suite hour hour.
func (d *Device) Report(seq uint64, at time.Time, hour int) *pb.Report {
	n := d.At(hour)
	active := d.active(at, n.Zone)
	idle := int64(4 * 3600)
	if active {
		idle = 30
	}
	power := &pb.Power{OnAc: d.OnAC, BatteryPresent: d.Battery, BatteryPercent: 100, Lid: d.Lid}
	if d.SleepsPlugged && !active {
		power.OnAc, power.Lid = true, "closed"
	}
	r := &pb.Report{
		Seq: seq, CollectedAt: timestamppb.New(at), AgentVersion: "sim",
		Host: &pb.Host{Hostname: d.Hostname, Os: d.OS, Platform: platformOf(d.OS), Arch: "arm64",
			HardwareModel: "MacBookPro18,3"},
		Network: &pb.Network{
			Interfaces: []*pb.Interface{
				{Name: "lo0", Kind: "loopback", Up: true, Addresses: []string{"127.0.0.1/8"}},
				{Name: "en0", Kind: "wifi", Up: true, Mac: macFor(d.Hostname), Addresses: []string{n.LocalIP + "/24"}},
			},
			DefaultGateway: n.Gateway, GatewayMac: n.GatewayMAC, DnsServers: []string{n.Gateway},
			Wifi: &pb.Wifi{Ssid: n.SSID, Bssid: n.BSSID, SignalDbm: -52},
		},
		RemoteAccess: &pb.RemoteAccess{CatalogVersion: "sim"},
		Locale: &pb.Locale{TimeZone: n.Zone, Locale: "en_US.UTF-8", KeyboardLayouts: []string{"com.apple.keylayout.US"},
			InputLanguages: d.InputLanguages},
		Activity:    &pb.Activity{IdleSeconds: idle, ConsoleUserPresent: len(d.ActiveHours) > 0},
		Power:       power,
		Peripherals: &pb.Peripherals{Usb: d.USB, Displays: d.Displays},
		Health:      &pb.AgentHealth{},
	}
	for _, l := range d.InputLanguages {
		r.Locale.InputMethods = append(r.Locale.InputMethods, "ibus:"+map[string]string{"ko": "hangul", "zh": "pinyin", "ru": "xkb:ru"}[l])
	}
	if loc, err := geo.LoadZone(n.Zone); err == nil {
		_, off := at.In(loc).Zone()
		r.Locale.UtcOffsetSeconds = int32(off)
	}
	for i, b := range n.Nearby {
		r.Network.Wifi.Nearby = append(r.Network.Wifi.Nearby, &pb.BSS{Bssid: b, Ssid: fmt.Sprintf("neighbour-%d", i), SignalDbm: int32(-60 - 3*i)})
	}
	if d.VPNInterface != "" {
		r.Network.Interfaces = append(r.Network.Interfaces, &pb.Interface{Name: d.VPNInterface, Kind: "vpn", Up: true,
			Addresses: []string{"10.8.0.2/24"}})
	}
	for _, t := range d.Tools {
		m := &pb.ToolMatch{ToolId: t.ID, Name: t.Name, Process: t.Process, Pid: 4242,
			Path: "/Applications/" + t.Name + ".app/Contents/MacOS/" + t.Process}
		if t.ListenPort != 0 {
			m.Listening = []*pb.Socket{{Protocol: "tcp", Address: "0.0.0.0", Port: t.ListenPort}}
		}
		if len(t.PeerHours) == 0 || slices.Contains(t.PeerHours, at.UTC().Hour()) {
			for _, p := range t.Peers {
				m.Connections = append(m.Connections, &pb.Connection{Protocol: "tcp", LocalAddress: n.LocalIP,
					LocalPort: 51000, RemoteAddress: p.Addr().String(), RemotePort: uint32(p.Port()), State: "established",
					RttUs: uint32(t.RTT / time.Microsecond)})
			}
		}
		r.RemoteAccess.Tools = append(r.RemoteAccess.Tools, m)
	}
	return r
}

// active tells whether someone types on the laptop at `at`.
func (d *Device) active(at time.Time, zone string) bool {
	if d.ActiveZone != "" {
		zone = d.ActiveZone
	}
	local := at
	if loc, err := geo.LoadZone(zone); err == nil {
		local = at.In(loc)
	}
	return slices.Contains(d.ActiveHours, local.Hour())
}

func platformOf(os string) string {
	switch os {
	case "darwin":
		return "macOS"
	case "windows":
		return "Microsoft Windows 11 Pro"
	}
	return "ubuntu"
}

// StoreDevice writes device i's hire and an enrolled device record straight
// into a store, as registration and enrollment would through the API, for
// benchmarks that build a store without it. It returns the device's id.
func (f *Fleet) StoreDevice(tx *store.Tx, i int, enrolled time.Time) (string, error) {
	d := f.Devices[i]
	if err := hires.Resolve(d.Hire); err != nil {
		return "", fmt.Errorf("hire %s: %w", d.Hire.GetId(), err)
	}
	d.Hire.CreatedAt = timestamppb.New(enrolled)
	if err := tx.PutHire(d.Hire); err != nil {
		return "", err
	}
	id := fmt.Sprintf("d-%016x", uint64(i+1)*0x9e3779b97f4a7c15)
	return id, tx.PutDevice(&pb.Device{Id: id, HireId: d.Hire.GetId(), Hostname: d.Hostname, Os: d.OS,
		AgentVersion: "sim", EnrolledAt: timestamppb.New(enrolled)})
}
