package collect

import (
	"context"
	"errors"
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// dumpTCPSockets asks the kernel for every TCP socket (IPv4 and IPv6) in
// the states of the mask, with tcp_info. sock_diag answers any user about
// every socket of the network namespace, without walking /proc.
func dumpTCPSockets(ctx context.Context, states uint32) ([]tcpSocket, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
	if err != nil {
		return nil, fmt.Errorf("inet_diag socket: %w", err)
	}
	defer unix.Close(fd)
	timeout := 2 * time.Second
	if dl, ok := ctx.Deadline(); ok {
		timeout = max(time.Until(dl), time.Millisecond)
	}
	tv := unix.NsecToTimeval(timeout.Nanoseconds())
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		return nil, fmt.Errorf("inet_diag timeout: %w", err)
	}
	var out []tcpSocket
	buf := make([]byte, 32<<10)
	for i, family := range []uint8{diagAFInet, diagAFInet6} {
		req := inetDiagRequest(family, states, uint32(i+1))
		if err := unix.Sendto(fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
			return out, fmt.Errorf("inet_diag request: %w", err)
		}
		for {
			if err := ctx.Err(); err != nil {
				return out, err
			}
			n, _, err := unix.Recvfrom(fd, buf, 0)
			if err != nil {
				if errors.Is(err, unix.EINTR) {
					continue
				}
				return out, fmt.Errorf("inet_diag read: %w", err)
			}
			socks, err := parseInetDiag(buf[:n])
			out = append(out, socks...)
			if errors.Is(err, errDumpDone) {
				break
			}
			if err != nil {
				return out, err
			}
		}
	}
	return out, nil
}
