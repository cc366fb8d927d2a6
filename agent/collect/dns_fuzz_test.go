package collect

import (
	"bytes"
	"net/netip"
	"testing"
)

// FuzzDNS feeds resolv.conf, `scutil --dns` and Windows adapter DNS lists
// the same bytes: whatever they hold, every server returned is an IP
// address in its canonical form without a zone, and no parser returns
// more servers than the input has lines naming one.
func FuzzDNS(f *testing.F) {
	addFixtureSeeds(f,
		"linux/plain/etc/resolv.conf",
		"linux/laptop/run/systemd/resolve/*.conf",
		"darwin/scutil-dns*.txt",
	)
	f.Add([]byte("nameserver fe80::1%wlp2s0\nnameserver 10.0.0.1 extra\nnameserver\n"))
	f.Add([]byte("DNS configuration\n\nresolver #1\n  nameserver[0] : fe80::1%en0\n  nameserver[1] : 300.1.1.1\n"))
	f.Add([]byte("resolver #1\n  nameserver[0] : 10.0.0.1\nDNS configuration (for scoped queries)\nresolver #1\n  nameserver[0] : ::ffff:10.0.0.2\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		lines := bytes.Count(b, []byte("\n")) + 1
		check := func(parser string, servers []string, bound int, dedup bool) {
			if len(servers) > bound {
				t.Fatalf("%s: %d servers, at most %d expected", parser, len(servers), bound)
			}
			seen := map[string]bool{}
			for _, s := range servers {
				a, err := netip.ParseAddr(s)
				if err != nil {
					t.Fatalf("%s: server %q is not an IP address: %v", parser, s, err)
				}
				if a.Zone() != "" || a.String() != s {
					t.Fatalf("%s: server %q is not canonical and zone-free (%s)", parser, s, a)
				}
				if dedup && seen[s] {
					t.Fatalf("%s: server %q listed twice in %q", parser, s, servers)
				}
				seen[s] = true
			}
		}
		check("resolv.conf", parseResolvConf(b), lines, false)
		check("scutil --dns", parseScutilDNS(b), lines, true)

		// Windows hands the agent addresses, not text: build adapters from
		// the bytes, 16 per address, the first byte choosing up and type.
		var adapters []winAdapter
		for rest := b; len(rest) >= 17; rest = rest[17:] {
			a := winAdapter{Up: rest[0]&1 == 1, IfType: uint32(rest[0] >> 1)}
			a.DNS = append(a.DNS, netip.AddrFrom16([16]byte(rest[1:17])))
			if rest[0]&2 == 2 {
				a.DNS = append(a.DNS, netip.AddrFrom4([4]byte(rest[1:5])))
			}
			adapters = append(adapters, a)
		}
		ws := windowsDNSServers(adapters)
		check("windows adapters", ws, 2*len(adapters), true)
		for _, s := range ws {
			if a := netip.MustParseAddr(s); a.IsUnspecified() || a.Is4In6() {
				t.Fatalf("windows adapters: server %q is unspecified or IPv4-mapped", s)
			}
		}
	})
}
