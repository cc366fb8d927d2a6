package server

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// FuzzValidateReport feeds arbitrary bytes through what the collector does
// with a report batch before storing it: decode (the wire codec's, which
// keeps strings that are not UTF-8 for the check to name and drops unknown
// fields), validate. It must never panic, and whatever it accepts must
// respect every limit.
func FuzzValidateReport(f *testing.F) {
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	good := &pb.ReportRequest{Reports: []*pb.Report{{Seq: 1, CollectedAt: timestamppb.New(now),
		Host: &pb.Host{Hostname: "laptop", Os: "darwin"},
		Network: &pb.Network{Interfaces: []*pb.Interface{{Name: "en0", Mac: "a4:83:e7:00:00:01", Addresses: []string{"192.168.1.5/24"}}},
			DefaultGateway: "192.168.1.1", GatewayMac: "50:c7:bf:00:00:01"},
		RemoteAccess: &pb.RemoteAccess{Tools: []*pb.ToolMatch{{ToolId: "anydesk", Connections: []*pb.Connection{{RemoteAddress: "113.224.1.5", RemotePort: 443}}}}},
	}}}
	b, _ := proto.Marshal(good)
	f.Add(b)
	bad := proto.Clone(good).(*pb.ReportRequest)
	bad.Reports[0].Host.Hostname = strings.Repeat("h", 300)
	b, _ = proto.Marshal(bad)
	f.Add(b)
	f.Add([]byte{0x0a, 0x02, 0x08, 0x00})
	f.Add([]byte{})
	latin1 := proto.Clone(good).(*pb.ReportRequest)
	latin1.Reports[0].Host.Hostname = "laptoX"
	b, _ = proto.Marshal(latin1)
	f.Add(bytes.Replace(b, []byte("laptoX"), []byte("lapt\xf6p"), 1))
	b, _ = proto.Marshal(good)
	f.Add(append(b, 0xba, 0x3e, 0x03, 'u', 'n', 'k')) // field 999, unknown
	l := DefaultLimits()
	f.Fuzz(func(t *testing.T, data []byte) {
		req := &pb.ReportRequest{}
		if err := decodeRequest(data, req); err != nil {
			return
		}
		for _, r := range req.GetReports() {
			if err := l.ValidateReport(r, now); err != nil {
				if err.Error() == "" {
					t.Fatal("a refusal must say why")
				}
				continue
			}
			if r.GetSeq() == 0 || r.GetCollectedAt() == nil {
				t.Fatalf("accepted a report without seq or time: %v", r)
			}
			if len(r.GetHost().GetHostname()) > 255 || len(r.GetNetwork().GetInterfaces()) > 256 {
				t.Fatalf("accepted a report over its limits")
			}
			if _, err := proto.Marshal(r); err != nil {
				t.Fatalf("accepted a report that cannot be stored: %v", err)
			}
			if len(r.ProtoReflect().GetUnknown()) > 0 || proto.Size(r) > l.MaxReportBytes {
				t.Fatalf("accepted a report with unknown fields or over the size limit")
			}
		}
	})
}
