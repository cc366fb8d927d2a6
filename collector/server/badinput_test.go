package server_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/farmwatch/farmwatch/agent/uplink"
	"github.com/farmwatch/farmwatch/collector/server"
	"github.com/farmwatch/farmwatch/collector/store"
	"github.com/farmwatch/farmwatch/internal/testcollector"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// enrolled starts a collector with one hire and one enrolled device.
func enrolled(t *testing.T, mutate func(*server.Config)) (*testcollector.Collector, *uplink.Conn, *uplink.Identity) {
	t.Helper()
	c := testcollector.Start(t, mutate)
	ctx := context.Background()
	if _, err := c.Admin.AddHires(ctx, &pb.AddHiresRequest{Hires: []*pb.Hire{{Id: "h1", Name: "Hire One", ClaimedHome: "Austin, TX, US"}}}); err != nil {
		t.Fatal(err)
	}
	tok, err := c.Admin.CreateToken(ctx, &pb.CreateTokenRequest{HireId: "h1"})
	if err != nil {
		t.Fatal(err)
	}
	id, _, err := uplink.Enroll(ctx, uplink.EnrollOptions{Collector: c.Addr(), Token: tok.GetToken(), Hostname: "laptop"})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := uplink.Dial(id)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return c, conn, id
}

func report(seq uint64) *pb.Report {
	return &pb.Report{Seq: seq, CollectedAt: timestamppb.Now(), Host: &pb.Host{Hostname: "laptop", Os: "linux"},
		Network: &pb.Network{Interfaces: []*pb.Interface{{Name: "eth0", Mac: "02:00:00:00:00:01", Addresses: []string{"192.168.1.5/24"}}}}}
}

func storedCount(t *testing.T, c *testcollector.Collector) int {
	t.Helper()
	n := 0
	if err := c.Store().View(func(tx *store.Tx) error { n = tx.ReportCount(); return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

func wantStatus(t *testing.T, err error, code codes.Code, substr string) {
	t.Helper()
	st, _ := status.FromError(err)
	if st.Code() != code || !strings.Contains(st.Message(), substr) {
		t.Fatalf("got %v (%q), want %v containing %q", st.Code(), st.Message(), code, substr)
	}
}

func TestMalformedReportsRefusedStoreIntact(t *testing.T) {
	c, conn, _ := enrolled(t, nil)
	ctx := context.Background()
	if _, err := conn.Send(ctx, []*pb.Report{report(1)}); err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("x", 300)
	many := make([]*pb.Interface, 300)
	for i := range many {
		many[i] = &pb.Interface{Name: "eth"}
	}
	tests := []struct {
		name   string
		mutate func(*pb.Report)
		code   codes.Code
		substr string
	}{
		{"seq zero", func(r *pb.Report) { r.Seq = 0 }, codes.InvalidArgument, "seq: must be 1 or more"},
		{"no timestamp", func(r *pb.Report) { r.CollectedAt = nil }, codes.InvalidArgument, "collected_at: missing"},
		{"clock years off", func(r *pb.Report) { r.CollectedAt = timestamppb.New(time.Now().AddDate(-3, 0, 0)) }, codes.InvalidArgument, "away from the collector's clock"},
		{"hostname too long", func(r *pb.Report) { r.Host.Hostname = long }, codes.InvalidArgument, "host.hostname: 300 bytes, limit 255"},
		{"too many interfaces", func(r *pb.Report) { r.Network.Interfaces = many }, codes.InvalidArgument, "network.interfaces: 300 entries, limit 256"},
		{"bad MAC", func(r *pb.Report) { r.Network.Interfaces[0].Mac = "not-a-mac" }, codes.InvalidArgument, `network.interfaces[0].mac: "not-a-mac" is not a MAC address`},
		{"bad address", func(r *pb.Report) { r.Network.Interfaces[0].Addresses = []string{"999.1.1.1"} }, codes.InvalidArgument, "not an IP address"},
		{"bad peer", func(r *pb.Report) {
			r.RemoteAccess = &pb.RemoteAccess{Tools: []*pb.ToolMatch{{ToolId: "anydesk", Connections: []*pb.Connection{{RemoteAddress: "evil"}}}}}
		}, codes.InvalidArgument, "remote_access.tools[0].connections[0].remote_address"},
		{"tool without id", func(r *pb.Report) {
			r.RemoteAccess = &pb.RemoteAccess{Tools: []*pb.ToolMatch{{Name: "x"}}}
		}, codes.InvalidArgument, "remote_access.tools[0].tool_id: missing"},
		{"nested string too long", func(r *pb.Report) {
			r.Peripherals = &pb.Peripherals{Usb: []*pb.USBDevice{{Product: strings.Repeat("p", 2000)}}}
		}, codes.InvalidArgument, "peripherals.usb[0].product: 2000 bytes, limit 1024"},
		{"oversized message", func(r *pb.Report) {
			r.Errors = []*pb.CollectorError{{Collector: "x", Error: strings.Repeat("e", 5<<20)}}
		}, codes.ResourceExhausted, "larger than max"},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := report(uint64(10 + i))
			tc.mutate(r)
			// A good report in the same batch is refused with it: a batch is all or nothing.
			_, err := conn.Send(ctx, []*pb.Report{report(uint64(100 + i)), r})
			wantStatus(t, err, tc.code, tc.substr)
			if n := storedCount(t, c); n != 1 {
				t.Fatalf("store holds %d reports after a refused batch, want 1", n)
			}
		})
	}
	// The device still works after all that.
	resp, err := conn.Send(ctx, []*pb.Report{report(2)})
	if err != nil || len(resp.GetAcknowledged()) != 1 {
		t.Fatalf("good report after bad ones: %v %v", resp, err)
	}
}

func TestDuplicateSeqStoredOnce(t *testing.T) {
	c, conn, id := enrolled(t, nil)
	ctx := context.Background()
	resp, err := conn.Send(ctx, []*pb.Report{report(1), report(2)})
	if err != nil || len(resp.GetAcknowledged()) != 2 || len(resp.GetDuplicates()) != 0 {
		t.Fatalf("first delivery: %v %v", resp, err)
	}
	// A retry after a lost acknowledgement, with a new report and a repeat inside one batch.
	resp, err = conn.Send(ctx, []*pb.Report{report(2), report(3), report(3)})
	if err != nil {
		t.Fatal(err)
	}
	if got := resp.GetDuplicates(); len(got) != 2 || got[0] != 2 || got[1] != 3 {
		t.Errorf("duplicates %v, want [2 3]", got)
	}
	if got := resp.GetAcknowledged(); len(got) != 3 {
		t.Errorf("acknowledged %v, want all three so the agent drops them", got)
	}
	if n := storedCount(t, c); n != 3 {
		t.Fatalf("%d reports stored, want 3", n)
	}
	dev, err := c.Admin.GetDevice(ctx, &pb.GetDeviceRequest{Id: id.DeviceID})
	if err != nil {
		t.Fatal(err)
	}
	if dev.GetDevice().GetReports() != 3 || dev.GetDevice().GetLastSeq() != 3 {
		t.Errorf("device counts %d reports, last seq %d; want 3 and 3", dev.GetDevice().GetReports(), dev.GetDevice().GetLastSeq())
	}
}

func TestUnknownDeviceRefused(t *testing.T) {
	c, _, _ := enrolled(t, nil)
	// A certificate from the collector's own CA for a device the store does not know
	// (as after a deletion): refused, nothing stored.
	conn, err := uplink.Dial(c.UnknownDevice(t, "d-00000000deadbeef"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, err = conn.Send(context.Background(), []*pb.Report{report(1)})
	wantStatus(t, err, codes.PermissionDenied, "device d-00000000deadbeef is not enrolled")
	if n := storedCount(t, c); n != 0 {
		t.Fatalf("%d reports stored from an unknown device", n)
	}
}

func TestAuthentication(t *testing.T) {
	now := time.Now()
	clock := func() time.Time { return now }
	c, conn, id := enrolled(t, func(cfg *server.Config) { cfg.Now = func() time.Time { return clock() } })
	ctx := context.Background()

	t.Run("no client certificate", func(t *testing.T) {
		pool := x509.NewCertPool()
		pool.AddCert(c.CA().Cert)
		cc, err := grpc.NewClient(c.Addr(), grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})))
		if err != nil {
			t.Fatal(err)
		}
		defer cc.Close()
		_, err = pb.NewAgentServiceClient(cc).Report(ctx, &pb.ReportRequest{Reports: []*pb.Report{report(1)}})
		wantStatus(t, err, codes.Unauthenticated, "client certificate")
		_, err = pb.NewAdminServiceClient(cc).ListAlerts(ctx, &pb.ListAlertsRequest{})
		wantStatus(t, err, codes.Unauthenticated, "client certificate")
	})
	t.Run("spent token", func(t *testing.T) {
		tok, _ := c.Admin.CreateToken(ctx, &pb.CreateTokenRequest{HireId: "h1"})
		if _, _, err := uplink.Enroll(ctx, uplink.EnrollOptions{Collector: c.Addr(), Token: tok.GetToken()}); err != nil {
			t.Fatal(err)
		}
		_, _, err := uplink.Enroll(ctx, uplink.EnrollOptions{Collector: c.Addr(), Token: tok.GetToken()})
		wantStatus(t, err, codes.Unauthenticated, "already used")
	})
	t.Run("expired token", func(t *testing.T) {
		tok, _ := c.Admin.CreateToken(ctx, &pb.CreateTokenRequest{HireId: "h1", TtlSeconds: 60})
		clock = func() time.Time { return now.Add(2 * time.Minute) }
		defer func() { clock = func() time.Time { return now } }()
		_, _, err := uplink.Enroll(ctx, uplink.EnrollOptions{Collector: c.Addr(), Token: tok.GetToken()})
		wantStatus(t, err, codes.Unauthenticated, "expired")
	})
	t.Run("unknown token", func(t *testing.T) {
		_, _, err := uplink.Enroll(ctx, uplink.EnrollOptions{Collector: c.Addr(), Token: "fwt_00000000000000000000000000000000"})
		wantStatus(t, err, codes.Unauthenticated, "not valid")
	})
	t.Run("wrong CA pinned", func(t *testing.T) {
		tok, _ := c.Admin.CreateToken(ctx, &pb.CreateTokenRequest{HireId: "h1"})
		_, _, err := uplink.Enroll(ctx, uplink.EnrollOptions{Collector: c.Addr(), Token: tok.GetToken(),
			CAFingerprint: strings.Repeat("ab", 32)})
		if err == nil || !strings.Contains(err.Error(), "does not match the pinned") {
			t.Fatalf("enroll against the wrong pinned CA: %v", err)
		}
	})
	t.Run("device certificate on the admin API", func(t *testing.T) {
		tcfg, err := id.TLSConfig("127.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		cc, err := grpc.NewClient(c.Addr(), grpc.WithTransportCredentials(credentials.NewTLS(tcfg)))
		if err != nil {
			t.Fatal(err)
		}
		defer cc.Close()
		_, err = pb.NewAdminServiceClient(cc).ListHires(ctx, &pb.ListHiresRequest{})
		wantStatus(t, err, codes.PermissionDenied, "needs an admin certificate")
	})
	t.Run("viewer cannot add hires", func(t *testing.T) {
		admin := viewer(t, c)
		if _, err := admin.ListHires(ctx, &pb.ListHiresRequest{}); err != nil {
			t.Fatalf("viewer should read: %v", err)
		}
		_, err := admin.AddHires(ctx, &pb.AddHiresRequest{Hires: []*pb.Hire{{Id: "h2", Name: "X", ClaimedHome: "Austin, TX, US"}}})
		wantStatus(t, err, codes.PermissionDenied, "needs the reviewer role")
	})
	_ = conn
}

func TestAddHiresAllOrNothing(t *testing.T) {
	c := testcollector.Start(t, nil)
	ctx := context.Background()
	_, err := c.Admin.AddHires(ctx, &pb.AddHiresRequest{Hires: []*pb.Hire{
		{Id: "ok-1", Name: "A", ClaimedHome: "Austin, TX, US"},
		{Id: "bad", Name: "B", ClaimedHome: "Nowhereville, ZZ, QQ"},
	}})
	wantStatus(t, err, codes.InvalidArgument, "hire 2 (bad): claimed_home")
	list, _ := c.Admin.ListHires(ctx, &pb.ListHiresRequest{})
	if len(list.GetHires()) != 0 {
		t.Fatalf("%d hires stored from a refused batch", len(list.GetHires()))
	}
	if _, err := c.Admin.AddHires(ctx, &pb.AddHiresRequest{Hires: []*pb.Hire{{Id: "ok-1", Name: "A", ClaimedHome: "Toronto, ON, CA"}}}); err != nil {
		t.Fatal(err)
	}
	_, err = c.Admin.AddHires(ctx, &pb.AddHiresRequest{Hires: []*pb.Hire{
		{Id: "ok-2", Name: "C", ClaimedHome: "Austin, TX, US"}, {Id: "ok-1", Name: "A", ClaimedHome: "Austin, TX, US"}}})
	wantStatus(t, err, codes.AlreadyExists, `id "ok-1" already exists`)
	list, _ = c.Admin.ListHires(ctx, &pb.ListHiresRequest{})
	if len(list.GetHires()) != 1 || list.GetHires()[0].GetHome().GetTimeZone() != "America/Toronto" {
		t.Fatalf("hires after refused batch: %v", list.GetHires())
	}
}
