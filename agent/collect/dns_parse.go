package collect

import (
	"bufio"
	"bytes"
	"net/netip"
	"strings"
)

// parseScutilDNS reads macOS `scutil --dns`. The servers that answer
// ordinary names are those of the resolvers without a "domain" line in the
// first section (resolvers with a domain serve only that domain: mDNS's
// local, a VPN's split DNS); when that section has none, the scoped section
// names the per-interface servers. Zones are stripped, duplicates dropped.
func parseScutilDNS(b []byte) []string {
	type resolver struct {
		scoped  bool
		domain  bool
		servers []string
	}
	var all []*resolver
	var cur *resolver
	scoped := false
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(line, "DNS configuration"):
			scoped = strings.Contains(line, "scoped")
			cur = nil
			continue
		case strings.HasPrefix(line, "resolver #"):
			cur = &resolver{scoped: scoped}
			all = append(all, cur)
			continue
		}
		if cur == nil {
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		switch {
		case k == "domain":
			cur.domain = true
		case strings.HasPrefix(k, "nameserver["):
			if a, err := netip.ParseAddr(v); err == nil {
				cur.servers = append(cur.servers, a.WithZone("").String())
			}
		}
	}
	pick := func(scoped bool) []string {
		var out []string
		for _, r := range all {
			if r.scoped != scoped || r.domain {
				continue
			}
			for _, s := range r.servers {
				if !contains(out, s) {
					out = append(out, s)
				}
			}
		}
		return out
	}
	if s := pick(false); len(s) > 0 {
		return s
	}
	return pick(true)
}

// windowsDNSServers lists the DNS servers of adapters that are up, in
// adapter order, without duplicates, loopback adapters, or the fec0:0:0:ffff::
// site-local placeholders Windows lists when IPv6 has no configured server.
func windowsDNSServers(adapters []winAdapter) []string {
	var out []string
	for _, a := range adapters {
		if !a.Up || a.IfType == ifTypeLoopback {
			continue
		}
		for _, ip := range a.DNS {
			ip = ip.Unmap().WithZone("")
			if !ip.IsValid() || ip.IsUnspecified() {
				continue
			}
			if ip.Is6() && strings.HasPrefix(ip.StringExpanded(), "fec0:0000:0000:ffff:") {
				continue
			}
			if s := ip.String(); !contains(out, s) {
				out = append(out, s)
			}
		}
	}
	return out
}
