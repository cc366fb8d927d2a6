package server

import (
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// The MAC check replaced a regular expression; it must accept exactly what
// the expression accepted.
func TestIsMACMatchesPattern(t *testing.T) {
	re := regexp.MustCompile(`^[0-9a-fA-F]{1,2}([:-][0-9a-fA-F]{1,2}){5,7}$`)
	cases := []string{"", "aa:bb:cc:dd:ee:ff", "AA-BB-CC-DD-EE-FF", "a:b:c:d:e:f", "aa:bb:cc:dd:ee",
		"aa:bb:cc:dd:ee:ff:00:11", "aa:bb:cc:dd:ee:ff:00:11:22", "aaa:bb:cc:dd:ee:ff", "aa::bb:cc:dd:ee:ff",
		":aa:bb:cc:dd:ee:ff", "aa:bb:cc:dd:ee:ff:", "gg:bb:cc:dd:ee:ff", "aa.bb.cc.dd.ee.ff", "aabb.ccdd.eeff",
		"aa:bb-cc:dd-ee:ff", "00:00:00:00:00:00\n"}
	alphabet := "0a:F-g."
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		var b strings.Builder
		for range rng.IntN(26) {
			b.WriteByte(alphabet[rng.IntN(len(alphabet))])
		}
		cases = append(cases, b.String())
	}
	for _, c := range cases {
		if got, want := isMAC(c), re.MatchString(c); got != want {
			t.Errorf("isMAC(%q) = %v, the pattern says %v", c, got, want)
		}
	}
}

// An error deep in a report names the full path of the field, list indexes
// included, and a valid report passes.
func TestValidateReportNamesFieldPath(t *testing.T) {
	now := time.Now()
	r := &pb.Report{Seq: 1, CollectedAt: timestamppb.New(now), Network: &pb.Network{Interfaces: []*pb.Interface{
		{Name: "eth0", Mac: "aa:bb:cc:dd:ee:ff"}, {Name: "wlan0", Mac: "aa:bb:cc:dd:ee:00"}}}}
	if err := DefaultLimits().ValidateReport(r, now); err != nil {
		t.Fatalf("valid report refused: %v", err)
	}
	r.Network.Interfaces[1].Name = strings.Repeat("x", 65)
	err := DefaultLimits().ValidateReport(r, now)
	if err == nil || !strings.HasPrefix(err.Error(), "network.interfaces[1].name: 65 bytes, limit 64") {
		t.Fatalf("got %v, want an error naming network.interfaces[1].name", err)
	}
	r.Network.Interfaces[1].Name = "wlan0"
	r.Network.Interfaces[0].Mac = "aa:bb:cc:dd:ee"
	if err := DefaultLimits().ValidateReport(r, now); err == nil || !strings.Contains(err.Error(), "network.interfaces[0].mac") {
		t.Fatalf("got %v, want an error naming network.interfaces[0].mac", err)
	}
}
