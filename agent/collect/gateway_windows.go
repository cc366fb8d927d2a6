package collect

import (
	"context"
	"errors"
	"net/netip"
	"unsafe"

	"golang.org/x/sys/windows"
)

// defaultGateway picks the IPv4 default route of GetIpForwardTable2 with the
// lowest effective metric, and the gateway's MAC from GetIpNetTable2 on the
// same interface. Both tables are readable without administrator rights.
func defaultGateway(_ context.Context, _ *Env) (string, string, error) {
	routes, err := windowsRoutes()
	if err != nil {
		return "", "", err
	}
	ifMetric := map[uint32]uint32{}
	ifName := map[uint32]string{}
	if adapters, err := windowsAdapters(); err == nil {
		for _, a := range adapters {
			ifMetric[a.IfIndex], ifName[a.IfIndex] = a.Ipv4Metric, a.Name
		}
	}
	best, ok := pickWindowsDefaultRoute(routes, ifMetric)
	if !ok {
		return "", "", errors.New("no default IPv4 route through a gateway")
	}
	gw := best.NextHop.String()
	rows, err := windowsNeighborRows()
	if err != nil {
		return gw, "", nil
	}
	return gw, neighborFor(windowsNeighbors(rows, ifName), gw, ifNameOrIndex(ifName, best.IfIndex)), nil
}

func windowsRoutes() ([]winRoute, error) {
	var table *windows.MibIpForwardTable2
	if err := windows.GetIpForwardTable2(windows.AF_INET, &table); err != nil {
		return nil, err
	}
	defer windows.FreeMibTable(unsafe.Pointer(table))
	var out []winRoute
	for _, r := range table.Rows() {
		dest := sockaddrInetAddr(&r.DestinationPrefix.Prefix)
		if !dest.IsValid() {
			continue
		}
		p, err := dest.Prefix(int(r.DestinationPrefix.PrefixLength))
		if err != nil {
			continue
		}
		out = append(out, winRoute{IfIndex: r.InterfaceIndex, Dest: p,
			NextHop: sockaddrInetAddr(&r.NextHop), Metric: r.Metric})
	}
	return out, nil
}

// sockaddrInetAddr reads the address of a SOCKADDR_INET union.
func sockaddrInetAddr(sa *windows.RawSockaddrInet) netip.Addr {
	switch sa.Family {
	case windows.AF_INET:
		return netip.AddrFrom4((*windows.RawSockaddrInet4)(unsafe.Pointer(sa)).Addr)
	case windows.AF_INET6:
		return netip.AddrFrom16((*windows.RawSockaddrInet6)(unsafe.Pointer(sa)).Addr)
	}
	return netip.Addr{}
}
