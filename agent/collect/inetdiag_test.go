package collect

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// readHexFixture reads a fixture of hex bytes with "#" comments.
func readHexFixture(t testing.TB, name string) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	for _, line := range strings.Split(string(raw), "\n") {
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		sb.WriteString(strings.Join(strings.Fields(line), ""))
	}
	b, err := hex.DecodeString(sb.String())
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return b
}

func littleEndianHost(t *testing.T) {
	t.Helper()
	if binary.NativeEndian.Uint16([]byte{1, 0}) != 1 {
		t.Skip("the netlink fixtures are in little-endian host order")
	}
}

func TestParseInetDiagFixture(t *testing.T) {
	littleEndianHost(t)
	b := readHexFixture(t, "linux/inetdiag/dump.hex")
	got, err := parseInetDiag(b)
	if !errors.Is(err, errDumpDone) {
		t.Fatalf("err = %v, want the end of the dump", err)
	}
	want := []tcpSocket{
		{Local: netip.MustParseAddrPort("127.0.0.1:5959"), Remote: netip.MustParseAddrPort("127.0.0.1:41234"),
			State: tcpEstablished, RTT: 31, RTTVar: 15, HasInfo: true},
		{Local: netip.MustParseAddrPort("[::ffff:192.168.1.58]:7070"), Remote: netip.MustParseAddrPort("[::ffff:175.45.176.5]:52811"),
			State: tcpEstablished, RTT: 243500, RTTVar: 12250, HasInfo: true},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d sockets, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("socket %d:\n got %+v\nwant %+v", i, got[i], want[i])
		}
	}
}

func TestParseInetDiagMalformed(t *testing.T) {
	littleEndianHost(t)
	full := readHexFixture(t, "linux/inetdiag/dump.hex")
	tests := []struct {
		name string
		in   []byte
	}{
		{"length beyond the buffer", full[:100]},
		{"inet_diag_msg cut short", func() []byte {
			b := make([]byte, nlmsgHdrLen+40)
			binary.NativeEndian.PutUint32(b, uint32(len(b)))
			binary.NativeEndian.PutUint16(b[4:], sockDiagByFamily)
			return b
		}()},
		{"netlink error", func() []byte {
			b := make([]byte, nlmsgHdrLen+4)
			binary.NativeEndian.PutUint32(b, uint32(len(b)))
			binary.NativeEndian.PutUint16(b[4:], nlmsgError)
			binary.NativeEndian.PutUint32(b[nlmsgHdrLen:], uint32(0xffffffff-12)) // -EACCES(13)
			return b
		}()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := parseInetDiag(tt.in); err == nil || errors.Is(err, errDumpDone) {
				t.Errorf("err = %v, want a parse error", err)
			}
		})
	}
	// A message with no INET_DIAG_INFO (e.g. a socket in TIME_WAIT) has no RTT.
	msg := bytes.Clone(full[:nlmsgHdrLen+inetDiagMsgLen])
	binary.NativeEndian.PutUint32(msg, uint32(len(msg)))
	socks, err := parseInetDiag(msg)
	if err != nil || len(socks) != 1 || socks[0].HasInfo {
		t.Errorf("without tcp_info: %+v, %v", socks, err)
	}
}

func TestInetDiagRequest(t *testing.T) {
	littleEndianHost(t)
	got := inetDiagRequest(diagAFInet6, 1<<tcpEstablished, 7)
	want := readHexFixture(t, "linux/inetdiag/request.hex")
	if !bytes.Equal(got, want) {
		t.Errorf("request\n got % x\nwant % x", got, want)
	}
}

func TestApplyTCPInfo(t *testing.T) {
	littleEndianHost(t)
	socks, _ := parseInetDiag(readHexFixture(t, "linux/inetdiag/dump.hex"))
	conns := []*pb.Connection{
		// gopsutil shows the v4-mapped socket of an IPv6 listener with plain IPv4 addresses.
		{Protocol: "tcp6", LocalAddress: "192.168.1.58", LocalPort: 7070, RemoteAddress: "175.45.176.5", RemotePort: 52811},
		{Protocol: "tcp", LocalAddress: "127.0.0.1", LocalPort: 5959, RemoteAddress: "127.0.0.1", RemotePort: 41234},
		{Protocol: "tcp", LocalAddress: "127.0.0.1", LocalPort: 5959, RemoteAddress: "127.0.0.1", RemotePort: 41235},
		{Protocol: "tcp", LocalAddress: "not-an-ip", LocalPort: 1, RemoteAddress: "127.0.0.1", RemotePort: 2},
	}
	if n := applyTCPInfo(conns, socks); n != 2 {
		t.Errorf("applied to %d connections, want 2", n)
	}
	wantRTT := [][2]uint32{{243500, 12250}, {31, 15}, {0, 0}, {0, 0}}
	for i, c := range conns {
		if got := [2]uint32{c.GetRttUs(), c.GetRttVarUs()}; got != wantRTT[i] {
			t.Errorf("connection %d: rtt %v, want %v", i, got, wantRTT[i])
		}
	}
}

func TestMibTCPRow(t *testing.T) {
	row, v6 := mibTCPRow(netip.MustParseAddrPort("192.168.1.58:3389"), netip.MustParseAddrPort("175.45.176.5:52811"))
	want := []byte{
		5, 0, 0, 0, // dwState MIB_TCP_STATE_ESTAB
		192, 168, 1, 58, // dwLocalAddr, network order
		0x0d, 0x3d, 0, 0, // dwLocalPort 3389, network order in the low word
		175, 45, 176, 5,
		0xce, 0x4b, 0, 0, // 52811
	}
	if v6 || !bytes.Equal(row, want) {
		t.Errorf("MIB_TCPROW % x (v6 %v), want % x", row, v6, want)
	}
	row, v6 = mibTCPRow(netip.MustParseAddrPort("[2001:db8::10]:3389"), netip.MustParseAddrPort("[2001:db8::99]:50000"))
	if !v6 || len(row) != mibTCP6RowLen || row[0] != 5 || row[4] != 0x20 || row[19] != 0x10 ||
		row[24] != 0x0d || row[25] != 0x3d || row[28] != 0x20 || row[43] != 0x99 || row[48] != 0xc3 || row[49] != 0x50 {
		t.Errorf("MIB_TCP6ROW % x (v6 %v)", row, v6)
	}
}

func TestParseEstatsPathRod(t *testing.T) {
	rod := readHexFixture(t, "windows/estats_path_rod_v0.hex")
	rtt, rttVar, ok := parseEstatsPathRod(rod)
	if !ok || rtt != 187000 || rttVar != 9000 {
		t.Errorf("got %d %d %v, want 187000 9000 true", rtt, rttVar, ok)
	}
	if _, _, ok := parseEstatsPathRod(make([]byte, tcpEstatsPathRodLen)); ok {
		t.Error("an all-zero ROD (collection not enabled) gave an RTT")
	}
	if _, _, ok := parseEstatsPathRod(rod[:100]); ok {
		t.Error("a short ROD gave an RTT")
	}
}
