package server

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/farmwatch/farmwatch/collector/store"
)

// DialAddr turns the address a collector listens on into one a client on the
// same host can dial and verify: an unspecified host (0.0.0.0, ::, or none,
// as in ":7443") becomes the loopback address of its family, which the
// server certificate always names.
func DialAddr(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	switch {
	case host == "" || host == "0.0.0.0":
		host = "127.0.0.1"
	case isUnspecified(host):
		host = "::1"
	}
	return net.JoinHostPort(host, port)
}

// boundDialAddr is DialAddr of the configured listen address with the port
// actually bound: the socket of "0.0.0.0:7443" reports itself as [::]:7443
// when it is dual-stack, and ":0" leaves the port to the system.
func boundDialAddr(listen string, bound net.Addr) string {
	host, _, err := net.SplitHostPort(listen)
	_, port, perr := net.SplitHostPort(bound.String())
	if err != nil || perr != nil {
		return DialAddr(bound.String())
	}
	return DialAddr(net.JoinHostPort(host, port))
}

// isUnspecified reports whether host is an IP address meaning "every
// interface" (0.0.0.0, ::, ::ffff:0.0.0.0).
func isUnspecified(host string) bool {
	ip := net.ParseIP(host)
	return ip != nil && ip.IsUnspecified()
}

// lockedError says which data dir is in use and, where the system tells,
// by whom.
func lockedError(dir string, err error) error {
	holder := ""
	if pid := lockHolder(filepath.Join(dir, store.File)); pid > 0 {
		holder = fmt.Sprintf("process %d", pid)
		if cmd := processCommand(pid); cmd != "" {
			holder += " (" + cmd + ")"
		}
	}
	if b, rerr := os.ReadFile(filepath.Join(dir, AddrFile)); rerr == nil {
		if addr := strings.TrimSpace(string(b)); addr != "" {
			if holder != "" {
				holder += ", "
			}
			holder += "last collector address " + addr
		}
	}
	if holder != "" {
		holder = " (held by " + holder + ")"
	}
	// The lock is taken before anything is written: say so, since a
	// half-started collector would otherwise be the first suspect.
	return fmt.Errorf("data dir %s is in use by another farmwatch process%s: nothing in it was changed; stop that process or give another --data (%w)",
		dir, holder, err)
}

// parseProcLocks finds, in the text of Linux's /proc/locks, the process that
// holds a lock on the file with inode ino. Lines read
// "1: FLOCK  ADVISORY  WRITE 1234 08:01:131090 0 EOF"; a blocked waiter's
// line has "->" after the number and is skipped.
func parseProcLocks(data []byte, ino uint64) int {
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 6 || f[1] == "->" {
			continue
		}
		id := strings.Split(f[5], ":")
		if len(id) != 3 {
			continue
		}
		if n, err := strconv.ParseUint(id[2], 10, 64); err != nil || n != ino {
			continue
		}
		if pid, err := strconv.Atoi(f[4]); err == nil && pid > 0 {
			return pid
		}
	}
	return 0
}
