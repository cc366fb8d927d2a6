package collect

import (
	"net/netip"
	"testing"
)

// FuzzParseNettop: every socket read from nettop has two specified ends
// with ports and an RTT between 1 µs and TCP's 64 s ceiling.
func FuzzParseNettop(f *testing.F) {
	addFixtureSeeds(f, "darwin/nettop-*.txt")
	f.Add([]byte("time,,rtt_avg,\n1,tcp4 1.2.3.4:5<->6.7.8.9:10,99999999 s,\n"))
	f.Add([]byte("rtt_avg\ntcp6 ::1.1<->::.2\n"))
	f.Add([]byte(",rtt_avg,\ntcp4 1.2.3.4:5<->6.7.8.9:10,1e-9 ms\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, s := range parseNettop(b) {
			if !s.HasInfo || s.RTT == 0 || s.RTT > nettopMaxRTTUs || s.RTTVar != 0 {
				t.Fatalf("RTT %d (var %d, info %v)", s.RTT, s.RTTVar, s.HasInfo)
			}
			for _, end := range []netip.AddrPort{s.Local, s.Remote} {
				if !end.IsValid() || end.Port() == 0 || end.Addr().IsUnspecified() {
					t.Fatalf("socket ends %v %v", s.Local, s.Remote)
				}
			}
		}
	})
}
