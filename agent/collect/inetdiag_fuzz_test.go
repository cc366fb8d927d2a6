package collect

import (
	"testing"
)

// addHexFixtureSeeds seeds a fuzz target with the bytes of hex fixtures
// (readHexFixture's format) and their truncations, for parsers of binary
// structures whose fixtures are annotated hex.
func addHexFixtureSeeds(f *testing.F, names ...string) {
	f.Helper()
	for _, name := range names {
		b := readHexFixture(f, name)
		f.Add(b)
		for _, cut := range []int{len(b) / 4, len(b) / 2, len(b) * 3 / 4, len(b) - 1} {
			if cut > 0 && cut < len(b) {
				f.Add(b[:cut])
			}
		}
	}
}

// FuzzInetDiag feeds the sock_diag dump parser netlink bytes: it returns
// the sockets before any damage and an error, never a panic; each socket
// has valid addresses, and an RTT only with tcp_info.
func FuzzInetDiag(f *testing.F) {
	addFixtureSeeds(f, "linux/inetdiag/*.hex")
	addHexFixtureSeeds(f, "linux/inetdiag/dump.hex", "linux/inetdiag/request.hex")
	f.Fuzz(func(t *testing.T, b []byte) {
		socks, _ := parseInetDiag(b)
		if len(socks) > len(b)/(nlmsgHdrLen+inetDiagMsgLen) {
			t.Fatalf("%d sockets from %d bytes", len(socks), len(b))
		}
		if len(b) > nlmsgHdrLen {
			if s, err := parseInetDiagMsg(b[nlmsgHdrLen:]); err == nil {
				socks = append(socks, s)
			}
		}
		for _, s := range socks {
			if !s.Local.IsValid() || !s.Remote.IsValid() {
				t.Fatalf("socket %+v has an invalid address", s)
			}
			if !s.HasInfo && (s.RTT != 0 || s.RTTVar != 0) {
				t.Fatalf("socket %+v has an RTT without tcp_info", s)
			}
		}
	})
}

// FuzzEstatsPathRod feeds the TCP_ESTATS_PATH_ROD_v0 reader any buffer: a
// short or not-yet-measured one is not ok, and an ok one has an RTT of at
// least a millisecond.
func FuzzEstatsPathRod(f *testing.F) {
	addFixtureSeeds(f, "windows/estats_path_rod_v0.hex")
	addHexFixtureSeeds(f, "windows/estats_path_rod_v0.hex")
	f.Fuzz(func(t *testing.T, b []byte) {
		rtt, rttVar, ok := parseEstatsPathRod(b)
		switch {
		case !ok && (rtt != 0 || rttVar != 0):
			t.Fatalf("not ok but rtt %d rttvar %d", rtt, rttVar)
		case ok && (len(b) < tcpEstatsPathRodLen || rtt < 1000):
			t.Fatalf("ok from %d bytes with rtt %d us", len(b), rtt)
		}
	})
}
