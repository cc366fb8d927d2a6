package collect

import (
	"context"
	"io"
	"net"
	"net/netip"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// The offsets the parser uses agree with x/sys/unix's copy of struct tcp_info.
func TestTCPInfoOffsets(t *testing.T) {
	var ti unix.TCPInfo
	if got := unsafe.Offsetof(ti.Rtt); got != tcpInfoRTTOff {
		t.Errorf("tcpi_rtt at %d, parser reads %d", got, tcpInfoRTTOff)
	}
	if got := unsafe.Offsetof(ti.Rttvar); got != tcpInfoRTTVarOff {
		t.Errorf("tcpi_rttvar at %d, parser reads %d", got, tcpInfoRTTVarOff)
	}
}

// TestDumpTCPSocketsLoopback asks this kernel for a loopback connection the
// test opens, and checks its RTT against what the socket itself reports.
func TestDumpTCPSocketsLoopback(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		io.Copy(c, c) // echo
	}()
	c, err := net.Dial("tcp4", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 4)
	for range 5 {
		if _, err := c.Write([]byte("ping")); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(c, buf); err != nil {
			t.Fatal(err)
		}
	}
	local := netip.MustParseAddrPort(c.LocalAddr().String())
	remote := netip.MustParseAddrPort(c.RemoteAddr().String())

	socks, err := dumpTCPSockets(context.Background(), tcpStatesConnected)
	if err != nil {
		t.Fatal(err)
	}
	var found *tcpSocket
	for i, s := range socks {
		if s.Local == local && s.Remote == remote {
			found = &socks[i]
		}
	}
	if found == nil {
		t.Fatalf("%s -> %s not among %d sockets", local, remote, len(socks))
	}
	if !found.HasInfo || found.RTT == 0 || found.State != tcpEstablished {
		t.Errorf("socket %+v: want established with an RTT", *found)
	}

	conn := &pb.Connection{Protocol: "tcp", LocalAddress: local.Addr().String(), LocalPort: uint32(local.Port()),
		RemoteAddress: remote.Addr().String(), RemotePort: uint32(remote.Port()), State: "established"}
	if err := osFillRTT(context.Background(), []*pb.ToolMatch{{Connections: []*pb.Connection{conn}}}); err != nil {
		t.Fatal(err)
	}
	if conn.GetRttUs() == 0 {
		t.Errorf("osFillRTT left rtt_us 0 on %v", conn)
	}
}
