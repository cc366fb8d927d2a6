package server_test

import (
	"bytes"
	"context"
	"os"
	"strconv"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/farmwatch/farmwatch/agent/uplink"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// rawRequest is a request already encoded: what a laptop that holds its own
// device key can put on the wire, bytes a protobuf library would refuse to
// produce included.
type rawRequest []byte

// rawCodec sends a rawRequest as it is and decodes replies as protobuf.
type rawCodec struct{}

func (rawCodec) Name() string { return "proto" }

func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	if r, ok := v.(rawRequest); ok {
		return mem.BufferSlice{mem.SliceBuffer(r)}, nil
	}
	return encoding.GetCodecV2("proto").Marshal(v)
}

func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	return proto.Unmarshal(data.Materialize(), v.(proto.Message))
}

// sendRaw delivers an encoded ReportRequest over the device's own mutual-TLS
// identity, as the agent's Report call would.
func sendRaw(t *testing.T, id *uplink.Identity, req []byte) (*pb.ReportResponse, error) {
	t.Helper()
	tcfg, err := id.TLSConfig("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	cc, err := grpc.NewClient(id.Collector, grpc.WithTransportCredentials(credentials.NewTLS(tcfg)),
		grpc.WithDefaultCallOptions(grpc.ForceCodecV2(rawCodec{}), grpc.MaxCallSendMsgSize(64<<20)))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	resp := &pb.ReportResponse{}
	err = cc.Invoke(context.Background(), pb.AgentService_Report_FullMethodName, rawRequest(req), resp)
	return resp, err
}

// encodeWith marshals a report batch and then swaps each placeholder for
// its bytes (same length, so every length prefix stays right).
func encodeWith(t *testing.T, req *pb.ReportRequest, swap map[string]string) []byte {
	t.Helper()
	b, err := proto.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	for from, to := range swap {
		if len(from) != len(to) || bytes.Count(b, []byte(from)) != 1 {
			t.Fatalf("placeholder %q: must occur once and match its bytes' length", from)
		}
		b = bytes.Replace(b, []byte(from), []byte(to), 1)
	}
	return b
}

// A string that is not UTF-8, wherever it sits in a report, is refused with
// InvalidArgument naming the field's path (grpc-go's own codec answers
// Internal, "failed to unmarshal", naming nothing), and nothing is stored.
func TestInvalidUTF8RefusedNamingTheField(t *testing.T) {
	c, _, id := enrolled(t, nil)
	full := func(seq uint64) *pb.Report {
		r := report(seq)
		r.Host.Hostname = "host@@@1"
		r.Network.Interfaces = append(r.Network.Interfaces, &pb.Interface{Name: "if@@@2"})
		r.Network.Wifi = &pb.Wifi{Ssid: "ssid@@@3", Nearby: []*pb.BSS{{Ssid: "HomeNet"}, {Ssid: "bss@@@4"}}}
		r.Peripherals = &pb.Peripherals{Usb: []*pb.USBDevice{{VendorId: "046d", Manufacturer: "usb@@@5", Product: "usb@@@6"}}}
		return r
	}
	tests := []struct {
		placeholder, bytes, path string
	}{
		{"host@@@1", "K\xf6ln-lap", "host.hostname"},
		{"if@@@2", "wcaf\xe90", "network.interfaces[1].name"},
		{"ssid@@@3", "Caf\xe9    ", "network.wifi.ssid"},
		{"bss@@@4", "\xd6\xd0\xce\xc4   ", "network.wifi.nearby[1].ssid"},
		{"usb@@@5", "K\xf6ln   ", "peripherals.usb[0].manufacturer"},
		{"usb@@@6", "\xd6\xd0\xce\xc4   ", "peripherals.usb[0].product"},
	}
	for i, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			seq := uint64(10 + i)
			req := &pb.ReportRequest{Reports: []*pb.Report{report(100 + seq), full(seq)}}
			_, err := sendRaw(t, id, encodeWith(t, req, map[string]string{tc.placeholder: tc.bytes}))
			wantStatus(t, err, codes.InvalidArgument, "reports[1] (seq "+strconv.FormatUint(seq, 10)+"): "+tc.path+": not valid UTF-8")
			if n := storedCount(t, c); n != 0 {
				t.Fatalf("%d reports stored from a refused batch", n)
			}
		})
	}
	// The same report, its strings UTF-8, is taken.
	resp, err := sendRaw(t, id, encodeWith(t, &pb.ReportRequest{Reports: []*pb.Report{full(1)}}, nil))
	if err != nil || len(resp.GetAcknowledged()) != 1 {
		t.Fatalf("valid report: %v %v", resp, err)
	}
}

// withUnknown appends an unknown field (number 999, bytes) of n bytes to m's
// encoding.
func withUnknown(t *testing.T, m proto.Message, n int) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	b = protowire.AppendTag(b, 999, protowire.BytesType)
	return protowire.AppendBytes(b, bytes.Repeat([]byte{'u'}, n))
}

// Fields the collector does not know, at any depth, are dropped before the
// report is checked and stored: a laptop cannot store megabytes past every
// limit in them.
func TestUnknownFieldsDiscarded(t *testing.T) {
	c, _, id := enrolled(t, nil)
	before := storeBytes(t, c)
	for seq := uint64(1); seq <= 5; seq++ {
		// 3 MiB inside the report's host, and 1 KiB more in the report itself.
		r := report(seq)
		host := withUnknown(t, r.Host, 3<<20)
		r.Host = nil
		rb := withUnknown(t, r, 1<<10)
		rb = protowire.AppendTag(rb, 4, protowire.BytesType) // Report.host
		rb = protowire.AppendBytes(rb, host)
		req := protowire.AppendTag(nil, 1, protowire.BytesType) // ReportRequest.reports
		req = protowire.AppendBytes(req, rb)
		resp, err := sendRaw(t, id, req)
		if err != nil || len(resp.GetAcknowledged()) != 1 {
			t.Fatalf("report %d: %v %v", seq, resp, err)
		}
	}
	got, err := c.Admin.ListReports(context.Background(), &pb.ListReportsRequest{DeviceId: id.DeviceID})
	if err != nil || len(got.GetReports()) != 5 {
		t.Fatalf("stored reports: %d, %v", len(got.GetReports()), err)
	}
	for _, sr := range got.GetReports() {
		r := sr.GetReport()
		if u := len(r.ProtoReflect().GetUnknown()) + len(r.GetHost().ProtoReflect().GetUnknown()); u != 0 {
			t.Fatalf("report %d stored with %d bytes of unknown fields", r.GetSeq(), u)
		}
		if r.GetHost().GetHostname() != "laptop" {
			t.Fatalf("known fields lost: %v", r.GetHost())
		}
	}
	if grown := storeBytes(t, c) - before; grown > 1<<20 {
		t.Errorf("store grew by %d bytes for five small reports", grown)
	}
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

// Every timestamp of a report is checked on ingest, not collected_at alone,
// and the refusal names the field.
func TestBadTimestampsRefusedNamingTheField(t *testing.T) {
	c, conn, _ := enrolled(t, nil)
	tests := []struct {
		name   string
		mutate func(*pb.Report)
		path   string
	}{
		{"boot time past year 9999", func(r *pb.Report) { r.Host.BootTime = &timestamppb.Timestamp{Seconds: 1 << 40} }, "host.boot_time"},
		{"session start with negative nanoseconds", func(r *pb.Report) {
			r.RemoteAccess = &pb.RemoteAccess{Sessions: []*pb.Session{{User: "a", Started: timestamppb.Now()},
				{User: "b", Started: &timestamppb.Timestamp{Seconds: 1, Nanos: -1}}}}
		}, "remote_access.sessions[1].started"},
		{"agent start before year 1", func(r *pb.Report) {
			r.Health = &pb.AgentHealth{StartedAt: &timestamppb.Timestamp{Seconds: -70000000000}}
		}, "health.started_at"},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := report(uint64(1 + i))
			tc.mutate(r)
			_, err := conn.Send(context.Background(), []*pb.Report{r})
			wantStatus(t, err, codes.InvalidArgument, tc.path+": invalid timestamp: ")
		})
	}
	if n := storedCount(t, c); n != 0 {
		t.Fatalf("%d reports with bad timestamps stored", n)
	}
}
