package collect

import (
	"context"
	"errors"
	"net/netip"
	"unsafe"

	"golang.org/x/sys/windows"
)

// interfaceClassifier classifies by the adapter's IfType and description
// from GetAdaptersAddresses (the name Go and gopsutil report is the adapter's
// friendly name); adapters it cannot find fall back to the name.
func interfaceClassifier(_ context.Context, _ *Env) func(name string, flags []string) string {
	adapters, err := windowsAdapters()
	byName := map[string]winAdapter{}
	if err == nil {
		for _, a := range adapters {
			byName[a.Name] = a
		}
	}
	return func(name string, flags []string) string {
		if a, ok := byName[name]; ok {
			return windowsAdapterKind(a)
		}
		return kindFromName(name, flags)
	}
}

// windowsAdapters reads every adapter with GetAdaptersAddresses.
func windowsAdapters() ([]winAdapter, error) {
	size := uint32(16 << 10)
	var buf []byte
	for range 4 {
		buf = make([]byte, size)
		err := windows.GetAdaptersAddresses(windows.AF_UNSPEC, windows.GAA_FLAG_SKIP_ANYCAST|windows.GAA_FLAG_SKIP_MULTICAST,
			0, (*windows.IpAdapterAddresses)(unsafe.Pointer(&buf[0])), &size)
		if err == nil {
			break
		}
		if !errors.Is(err, windows.ERROR_BUFFER_OVERFLOW) {
			return nil, err
		}
		buf = nil
	}
	if buf == nil {
		return nil, errors.New("GetAdaptersAddresses: buffer kept growing")
	}
	var out []winAdapter
	for aa := (*windows.IpAdapterAddresses)(unsafe.Pointer(&buf[0])); aa != nil; aa = aa.Next {
		a := winAdapter{
			IfIndex:     aa.IfIndex,
			Name:        windows.UTF16PtrToString(aa.FriendlyName),
			Description: windows.UTF16PtrToString(aa.Description),
			IfType:      aa.IfType,
			Up:          aa.OperStatus == windows.IfOperStatusUp,
			Ipv4Metric:  aa.Ipv4Metric,
		}
		for d := aa.FirstDnsServerAddress; d != nil; d = d.Next {
			if ip, ok := netip.AddrFromSlice(d.Address.IP()); ok {
				a.DNS = append(a.DNS, ip.Unmap())
			}
		}
		out = append(out, a)
	}
	return out, nil
}
