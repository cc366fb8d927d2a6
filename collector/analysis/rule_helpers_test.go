package analysis

import (
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

var t0 = time.Date(2026, 11, 10, 15, 0, 0, 0, time.UTC) // 09:00 in Austin (CST)

func austinHire() *pb.Hire {
	return &pb.Hire{Id: "h1", Name: "Ana Lee", Phone: "512-555-0100",
		Home: &pb.ClaimedHome{Place: "Austin, Texas, US", Country: "US", Latitude: 30.2672, Longitude: -97.7431, TimeZone: "America/Chicago"}}
}

func in(mut func(*Input)) Input {
	cfg := DefaultConfig()
	i := Input{Hire: austinHire(), Config: &cfg, State: &DeviceState{}, Now: t0,
		Report: &pb.StoredReport{ReceivedAt: timestamppb.New(t0), PublicIp: "70.112.1.9", Report: &pb.Report{},
			Location: &pb.IPLocation{Country: "US", City: "Austin", Latitude: 30.27, Longitude: -97.74, AccuracyKm: 20, Geolocatable: true}}}
	if mut != nil {
		mut(&i)
	}
	return i
}

func fires(t *testing.T, name string, r func(Input) *pb.Evidence, i Input, want bool) *pb.Evidence {
	t.Helper()
	ev := r(i)
	if (ev != nil) != want {
		t.Errorf("%s: fired=%v, want %v (%v)", name, ev != nil, want, ev)
	}
	return ev
}
