package collect

import (
	"net/netip"
	"regexp"
	"strings"
	"testing"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

var wellFormedMAC = regexp.MustCompile(`^[0-9a-f]{2}(:[0-9a-f]{2}){5}$`)

// checkNeighbors asserts that every neighbour has a valid IP, a
// well-formed unicast MAC, and a vendor flag only from the list with a
// known confidence, owned by the longest listed prefix of its MAC.
func checkNeighbors(t *testing.T, ns []*pb.Neighbor) {
	t.Helper()
	if err := flagKVMVendors(ns); err != nil {
		t.Fatal(err)
	}
	l, err := loadKVMVendors()
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range ns {
		if _, err := netip.ParseAddr(n.GetIp()); err != nil {
			t.Fatalf("ip %q", n.GetIp())
		}
		mac := n.GetMac()
		// Unicast only: the group bit is the low bit of the first octet.
		if !wellFormedMAC.MatchString(mac) || mac == "00:00:00:00:00:00" || strings.IndexByte("13579bdf", mac[1]) >= 0 {
			t.Fatalf("mac %q", mac)
		}
		if n.GetFlaggedVendor() == "" {
			if n.GetFlagConfidence() != "" {
				t.Fatalf("confidence %q without a vendor", n.GetFlagConfidence())
			}
			continue
		}
		if confidenceRank[n.GetFlagConfidence()] == 0 {
			t.Fatalf("confidence %q", n.GetFlagConfidence())
		}
		hex := strings.ReplaceAll(mac, ":", "")
		var longest *KVMVendor
		for _, digits := range []int{6, 7, 9} {
			if v, ok := l[hex[:digits]]; ok {
				longest = &v
			}
		}
		if longest == nil || longest.Vendor != n.GetFlaggedVendor() {
			t.Fatalf("%s flagged %q, longest listed prefix says %v", mac, n.GetFlaggedVendor(), longest)
		}
	}
}

// FuzzNeighborParsers feeds Linux /proc/net/arp, macOS `arp -an` and the
// MAC prefix lookup.
func FuzzNeighborParsers(f *testing.F) {
	addFixtureSeeds(f, "darwin/arp-an.txt", "linux/*/proc/net/arp")
	f.Add([]byte("? (192.168.1.9) at 4:c9:8b:1a:0:7 on en0 ifscope [ethernet]\n"))
	f.Add([]byte("10.0.0.2 0x1 0x2 70:b3:d5:f2:f1:23 * eth0\n"))
	f.Add([]byte("? (fe80::1%en0) at 30:52:53:: on en0\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		checkNeighbors(t, parseProcNeighbors(b))
		checkNeighbors(t, parseArpAn(b))
		// The lookup alone, on each whitespace-separated word.
		l, err := loadKVMVendors()
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range strings.Fields(string(b)) {
			v, ok := l.match(w)
			if ok != (v.Vendor != "") {
				t.Fatalf("match(%q) = %+v %v", w, v, ok)
			}
			if ok {
				if mac, _ := normalizeMAC(w); strings.IndexByte("26ae", mac[1]) >= 0 {
					t.Fatalf("locally administered %q matched", w)
				}
			}
		}
	})
}
