package collect

import (
	"context"
	"fmt"
	"strconv"
	"syscall"
	"unsafe"

	"golang.org/x/sys/windows"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// x/sys/windows has GetIpForwardTable2 but not GetIpNetTable2.
var procGetIpNetTable2 = windows.NewLazySystemDLL("iphlpapi.dll").NewProc("GetIpNetTable2")

// mibIpNetRow2 is MIB_IPNET_ROW2 (netioapi.h), 88 bytes on 64-bit Windows.
type mibIpNetRow2 struct {
	Address               windows.RawSockaddrInet // SOCKADDR_INET, 28 bytes
	InterfaceIndex        uint32
	InterfaceLuid         uint64
	PhysicalAddress       [32]byte // IF_MAX_PHYS_ADDRESS_LENGTH
	PhysicalAddressLength uint32
	State                 uint32 // NL_NEIGHBOR_STATE
	Flags                 uint8  // IsRouter, IsUnreachable bits
	ReachabilityTime      uint32
}

// The row layout must match the C struct exactly.
var (
	_ [88 - unsafe.Sizeof(mibIpNetRow2{})]byte
	_ [unsafe.Sizeof(mibIpNetRow2{}) - 88]byte
)

// mibIpNetTable2 is MIB_IPNET_TABLE2: the rows start 8-byte aligned.
type mibIpNetTable2 struct {
	NumEntries uint32
	_          uint32
	Table      [1]mibIpNetRow2
}

// neighborTable reads the IPv4 neighbour cache with GetIpNetTable2, which
// any user may call; nothing is sent.
func neighborTable(_ context.Context, _ *Env) ([]*pb.Neighbor, error) {
	rows, err := windowsNeighborRows()
	if err != nil {
		return nil, err
	}
	ifName := map[uint32]string{}
	if adapters, err := windowsAdapters(); err == nil {
		for _, a := range adapters {
			ifName[a.IfIndex] = a.Name
		}
	}
	return windowsNeighbors(rows, ifName), nil
}

func windowsNeighborRows() ([]winNeighbor, error) {
	if err := procGetIpNetTable2.Find(); err != nil {
		return nil, err
	}
	var table *mibIpNetTable2
	r, _, _ := procGetIpNetTable2.Call(uintptr(windows.AF_INET), uintptr(unsafe.Pointer(&table)))
	if r != 0 {
		return nil, fmt.Errorf("GetIpNetTable2: %w", syscall.Errno(r))
	}
	defer windows.FreeMibTable(unsafe.Pointer(table))
	var out []winNeighbor
	for _, row := range unsafe.Slice(&table.Table[0], table.NumEntries) {
		n := min(row.PhysicalAddressLength, uint32(len(row.PhysicalAddress)))
		out = append(out, winNeighbor{
			IfIndex: row.InterfaceIndex,
			Addr:    sockaddrInetAddr(&row.Address),
			MAC:     append([]byte(nil), row.PhysicalAddress[:n]...),
			State:   row.State,
		})
	}
	return out, nil
}

// ifNameOrIndex names an interface as windowsNeighbors does.
func ifNameOrIndex(ifName map[uint32]string, idx uint32) string {
	if n := ifName[idx]; n != "" {
		return n
	}
	return strconv.FormatUint(uint64(idx), 10)
}
