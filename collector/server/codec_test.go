package server_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"

	"github.com/farmwatch/farmwatch/collector/server"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
	"github.com/farmwatch/farmwatch/sim"
)

// The lenient decoder reads every field as the protobuf library does: on
// the simulator's reports (every scenario) it gives the same message.
func TestDecodeLenientMatchesProtobuf(t *testing.T) {
	f := sim.Plan(200, 3)
	req := &pb.ReportRequest{}
	for i, d := range f.Devices {
		req.Reports = append(req.Reports, d.Report(uint64(i+1), time.Now(), i%3))
	}
	b, err := proto.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	got := &pb.ReportRequest{}
	if err := server.DecodeLenient(b, got.ProtoReflect()); err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(got, req) {
		t.Fatal("lenient decoding differs from protobuf's")
	}
}

// Outside a report batch a string that is not UTF-8 is still an error, now
// naming its field.
func TestDecodeRequestNamesTheFieldElsewhere(t *testing.T) {
	b, _ := proto.Marshal(&pb.AddHiresRequest{Hires: []*pb.Hire{{Id: "h1", Name: "Ana"}, {Id: "h2", Name: "JosX"}}})
	b = bytes.Replace(b, []byte("JosX"), []byte("Jos\xe9"), 1)
	err := server.DecodeRequest(b, &pb.AddHiresRequest{})
	if err == nil || !strings.Contains(err.Error(), "hires[1].name: not valid UTF-8") {
		t.Fatalf("got %v, want an error naming hires[1].name", err)
	}
	req := &pb.ReportRequest{}
	b, _ = proto.Marshal(&pb.ReportRequest{Reports: []*pb.Report{{Seq: 1, Host: &pb.Host{Hostname: "K0ln"}}}})
	if err := server.DecodeRequest(bytes.Replace(b, []byte("K0ln"), []byte("K\xf6ln"), 1), req); err != nil {
		t.Fatalf("report batch: %v", err)
	}
	if h := req.GetReports()[0].GetHost().GetHostname(); h != "K\xf6ln" {
		t.Fatalf("hostname %q, want its bytes kept for validation to refuse", h)
	}
}

// BenchmarkDecodeReportBatch is the collector's decoding of a 100-report
// batch of the simulator's reports, against grpc-go's own codec: dropping
// unknown fields must not cost a valid batch anything.
//
//	go test -run '^$' -bench DecodeReportBatch ./collector/server/
func BenchmarkDecodeReportBatch(b *testing.B) {
	f := sim.Plan(100, 1)
	req := &pb.ReportRequest{}
	for i, d := range f.Devices {
		req.Reports = append(req.Reports, d.Report(uint64(i+1), time.Now(), 0))
	}
	raw, err := proto.Marshal(req)
	if err != nil {
		b.Fatal(err)
	}
	data := mem.BufferSlice{mem.SliceBuffer(raw)}
	for _, c := range []encoding.CodecV2{server.NewWireCodec(), encoding.GetCodecV2("proto")} {
		name := "grpc-go"
		if c != encoding.GetCodecV2("proto") {
			name = "farmwatch"
		}
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(raw)))
			b.ReportAllocs()
			for n := 0; n < b.N; n++ {
				if err := c.Unmarshal(data, &pb.ReportRequest{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
