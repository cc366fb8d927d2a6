package analysis

import (
	"math"
	"strings"
	"testing"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

func hire() *pb.Hire {
	return &pb.Hire{Id: "h1", Name: "Ana Lee", Home: &pb.ClaimedHome{Place: "Austin, Texas, US", Country: "US"}}
}

func TestCountryMismatch(t *testing.T) {
	cfg := DefaultConfig()
	tests := []struct {
		name string
		loc  *pb.IPLocation
		fire bool
	}{
		{"same country", &pb.IPLocation{Country: "US", Geolocatable: true}, false},
		{"other country", &pb.IPLocation{Country: "NL", City: "Amsterdam", Geolocatable: true, Asn: 9009, AsOrg: "M247"}, true},
		{"case differs", &pb.IPLocation{Country: "us", Geolocatable: true}, false},
		{"not geolocatable (CGNAT)", &pb.IPLocation{Range: "cgnat"}, false},
		{"unknown country", &pb.IPLocation{Geolocatable: true}, false},
		{"no location", nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev := countryMismatch(Input{Hire: hire(), Report: &pb.StoredReport{PublicIp: "146.70.1.1", Location: tc.loc}, Config: cfg})
			if (ev != nil) != tc.fire {
				t.Fatalf("fired=%v, want %v (%v)", ev != nil, tc.fire, ev)
			}
			if ev != nil && !strings.Contains(ev.GetExplanation(), "Amsterdam, NL") {
				t.Errorf("explanation does not say where: %s", ev.GetExplanation())
			}
		})
	}
	if ev := countryMismatch(Input{Hire: &pb.Hire{}, Report: &pb.StoredReport{Location: &pb.IPLocation{Country: "NL", Geolocatable: true}}, Config: cfg}); ev != nil {
		t.Error("fired for a hire without a resolved home")
	}
}

func TestRATPresent(t *testing.T) {
	cfg := DefaultConfig()
	r := &pb.StoredReport{
		Report: &pb.Report{RemoteAccess: &pb.RemoteAccess{Tools: []*pb.ToolMatch{
			{ToolId: "anydesk", Name: "AnyDesk", Process: "AnyDesk", Connections: []*pb.Connection{{RemoteAddress: "113.224.1.1"}}}}}},
		Peers: []*pb.PeerLocation{{Ip: "113.224.1.1", ToolId: "anydesk", Location: &pb.IPLocation{Country: "CN"}}},
	}
	ev := ratPresent(Input{Hire: hire(), Report: r, Config: cfg})
	if ev == nil || ev.GetWeight() != cfg.Weights[RuleRATPresent] {
		t.Fatalf("evidence %v", ev)
	}
	if !strings.Contains(ev.GetExplanation(), "AnyDesk with 1 connection(s)") || !strings.Contains(ev.GetExplanation(), "113.224.1.1 (CN)") {
		t.Errorf("explanation %q", ev.GetExplanation())
	}
	// The company's sanctioned tool is not evidence.
	cfg.AllowedTools = []string{"anydesk"}
	if ev := ratPresent(Input{Hire: hire(), Report: r, Config: cfg}); ev != nil {
		t.Errorf("allowlisted tool raised %v", ev)
	}
	if ev := ratPresent(Input{Hire: hire(), Report: &pb.StoredReport{Report: &pb.Report{}}, Config: DefaultConfig()}); ev != nil {
		t.Errorf("no tools raised %v", ev)
	}
}

func TestScoreAndThreshold(t *testing.T) {
	cfg := DefaultConfig()
	none := Score(cfg.Prior, nil)
	if none >= cfg.AlertThreshold {
		t.Fatalf("a device without evidence scores %.3f, at or over the alert threshold %.2f", none, cfg.AlertThreshold)
	}
	rat := Score(cfg.Prior, []*pb.Evidence{{Weight: cfg.Weights[RuleRATPresent]}})
	if rat < cfg.AlertThreshold {
		t.Errorf("a running remote-access tool scores %.3f, under the alert threshold", rat)
	}
	both := Score(cfg.Prior, []*pb.Evidence{{Weight: cfg.Weights[RuleRATPresent]}, {Weight: cfg.Weights[RuleCountryMismatch]}})
	want := 1 / (1 + math.Exp(-(cfg.Prior + cfg.Weights[RuleRATPresent] + cfg.Weights[RuleCountryMismatch])))
	if math.Abs(both-want) > 1e-12 || both < cfg.ReviewThreshold {
		t.Errorf("tool plus foreign country scores %.3f (want %.3f, above review %.2f)", both, want, cfg.ReviewThreshold)
	}
}
