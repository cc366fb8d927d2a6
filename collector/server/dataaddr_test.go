package server

import (
	"net"
	"testing"
)

func TestParseProcLocks(t *testing.T) {
	locks := []byte(`1: POSIX  ADVISORY  WRITE 812 00:1b:2051 0 EOF
2: FLOCK  ADVISORY  WRITE 19416 08:01:131090 0 EOF
2: -> FLOCK  ADVISORY  WRITE 19500 08:01:131090 0 EOF
3: OFDLCK ADVISORY  READ  -1 00:06:9 0 EOF
garbage
`)
	for _, tc := range []struct {
		ino  uint64
		want int
	}{{131090, 19416}, {2051, 812}, {9, 0}, {7, 0}} {
		if got := parseProcLocks(locks, tc.ino); got != tc.want {
			t.Errorf("inode %d: holder %d, want %d", tc.ino, got, tc.want)
		}
	}
}

func TestBoundDialAddr(t *testing.T) {
	for _, tc := range []struct{ listen, bound, want string }{
		{"0.0.0.0:7443", "[::]:7443", "127.0.0.1:7443"},
		{":0", "[::]:40001", "127.0.0.1:40001"},
		{"[::]:7443", "[::]:7443", "[::1]:7443"},
		{"127.0.0.1:0", "127.0.0.1:40002", "127.0.0.1:40002"},
		{"10.1.2.3:7443", "10.1.2.3:7443", "10.1.2.3:7443"},
		{"collector.example.com:7443", "192.0.2.7:7443", "collector.example.com:7443"},
	} {
		bound, err := net.ResolveTCPAddr("tcp", tc.bound)
		if err != nil {
			t.Fatal(err)
		}
		if got := boundDialAddr(tc.listen, bound); got != tc.want {
			t.Errorf("listen %s bound %s: %s, want %s", tc.listen, tc.bound, got, tc.want)
		}
	}
}
