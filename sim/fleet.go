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
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/farmwatch/farmwatch/agent/uplink"
	"github.com/farmwatch/farmwatch/collector/hires"
	"github.com/farmwatch/farmwatch/collector/store"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// Device is one simulated laptop.
type Device struct {
	Hire     *pb.Hire
	Scenario string
	// Expected says whether a reviewer should see it.
	Expected  bool
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
	// empty) in which someone types on the laptop; none for a laptop on a shelf.
	ActiveHours  []int
	ActiveZone   string
	VPNInterface string
	USB          []*pb.USBDevice
	Displays     []*pb.Display
	Trip         *Trip
	Move         *Move

	token    string
	identity *uplink.Identity
	// conns holds one connection per public IP the device has reported
	// from, as a laptop has one per network it joins.
	conns map[netip.Addr]*uplink.Conn
	seq   uint64
}

// Trip puts a device elsewhere on days [FromDay, ToDay].
type Trip struct {
	FromDay, ToDay int
	IP             netip.Addr
	Zone           string
}

// Move is a declared move: from Day on the hire claims NewHome and the
// device is there.
type Move struct {
	Day     int
	IP      netip.Addr
	Zone    string
	NewHome string
}

// At returns where the device is on a day: public IP and clock zone.
func (d *Device) At(day int) (netip.Addr, string) {
	switch {
	case d.Trip != nil && day >= d.Trip.FromDay && day <= d.Trip.ToDay:
		return d.Trip.IP, d.Trip.Zone
	case d.Move != nil && day >= d.Move.Day:
		return d.Move.IP, d.Move.Zone
	}
	return d.PublicIP, d.TimeZone
}

// Tool is a remote-access tool running on a simulated laptop.
type Tool struct {
	ID, Name, Process string
	ListenPort        uint32
	Peers             []netip.AddrPort
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
// starts at start), as an agent that spooled them would, from where the
// device is that day.
func (f *Fleet) SendDay(ctx context.Context, day int, start time.Time, concurrency int) (SendStats, error) {
	return f.send(concurrency, func(d *Device) ([]*pb.Report, netip.Addr) {
		ip, _ := d.At(day)
		reports := make([]*pb.Report, 0, 24)
		for h := range 24 {
			d.seq++
			reports = append(reports, d.Report(d.seq, start.Add(time.Duration(h)*time.Hour), day))
		}
		return reports, ip
	}, ctx)
}

func (f *Fleet) send(concurrency int, build func(*Device) ([]*pb.Report, netip.Addr), ctx context.Context) (SendStats, error) {
	var mu sync.Mutex
	var st SendStats
	err := f.each(concurrency, func(d *Device) error {
		reports, ip := build(d)
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

// Moves applies the declared moves due on day through the admin API.
func (f *Fleet) Moves(ctx context.Context, admin pb.AdminServiceClient, day int) error {
	for _, d := range f.Devices {
		if d.Move == nil || d.Move.Day != day {
			continue
		}
		h := proto.Clone(d.Hire).(*pb.Hire)
		h.ClaimedHome = d.Move.NewHome
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

// Report builds the snapshot this device's agent would take at `at` on day.
func (d *Device) Report(seq uint64, at time.Time, day int) *pb.Report {
	_, zone := d.At(day)
	r := &pb.Report{
		Seq: seq, CollectedAt: timestamppb.New(at), AgentVersion: "sim",
		Host: &pb.Host{Hostname: d.Hostname, Os: d.OS, Platform: platformOf(d.OS), Arch: "arm64",
			HardwareModel: "MacBookPro18,3"},
		Network: &pb.Network{
			Interfaces: []*pb.Interface{
				{Name: "lo0", Kind: "loopback", Up: true, Addresses: []string{"127.0.0.1/8"}},
				{Name: "en0", Kind: "wifi", Up: true, Mac: macFor(d.Hostname), Addresses: []string{d.LocalIP + "/24"}},
			},
			DefaultGateway: d.Gateway, GatewayMac: d.GatewayMA, DnsServers: []string{d.Gateway},
			Wifi: &pb.Wifi{Ssid: d.SSID, Bssid: d.BSSID, SignalDbm: -52},
		},
		RemoteAccess: &pb.RemoteAccess{CatalogVersion: "sim"},
		Locale:       &pb.Locale{TimeZone: zone, Locale: "en_US.UTF-8", KeyboardLayouts: []string{"com.apple.keylayout.US"}},
		Activity:     &pb.Activity{IdleSeconds: d.idle(at, zone), ConsoleUserPresent: len(d.ActiveHours) > 0},
		Power:        &pb.Power{OnAc: d.OnAC, BatteryPresent: d.Battery, BatteryPercent: 100, Lid: d.Lid},
		Peripherals:  &pb.Peripherals{Usb: d.USB, Displays: d.Displays},
		Health:       &pb.AgentHealth{},
	}
	if loc, err := time.LoadLocation(zone); err == nil {
		_, off := at.In(loc).Zone()
		r.Locale.UtcOffsetSeconds = int32(off)
	}
	for _, b := range d.Nearby {
		r.Network.Wifi.Nearby = append(r.Network.Wifi.Nearby, &pb.BSS{Bssid: b, Ssid: "neighbour", SignalDbm: -75})
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
		for _, p := range t.Peers {
			m.Connections = append(m.Connections, &pb.Connection{Protocol: "tcp", LocalAddress: d.LocalIP,
				LocalPort: 51000, RemoteAddress: p.Addr().String(), RemotePort: uint32(p.Port()), State: "established"})
		}
		r.RemoteAccess.Tools = append(r.RemoteAccess.Tools, m)
	}
	return r
}

// idle is how long since local input at `at`: half a minute in working
// hours, hours otherwise.
func (d *Device) idle(at time.Time, zone string) int64 {
	if d.ActiveZone != "" {
		zone = d.ActiveZone
	}
	local := at
	if loc, err := time.LoadLocation(zone); err == nil {
		local = at.In(loc)
	}
	for _, h := range d.ActiveHours {
		if local.Hour() == h {
			return 30
		}
	}
	return 4 * 3600
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
