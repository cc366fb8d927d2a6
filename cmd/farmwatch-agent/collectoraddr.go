package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
)

// DefaultCollectorPort is the port `farmwatch serve` listens on unless told
// otherwise; an address without a port means it.
const DefaultCollectorPort = 7443

// collectorAddr is the collector address IT gave ("HOST", "HOST:PORT",
// "IPv6", "[IPv6]:PORT") as HOST:PORT, the port defaulting to the
// collector's.
func collectorAddr(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", errors.New("collector address is empty: want HOST or HOST:PORT")
	}
	if strings.Contains(s, "://") {
		return "", fmt.Errorf("collector address %q: want HOST or HOST:PORT, not a URL", s)
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		// No port: a bare name, IPv4 or IPv6 address, brackets optional.
		host, port = s, strconv.Itoa(DefaultCollectorPort)
		if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
			host = host[1 : len(host)-1]
			if net.ParseIP(host) == nil {
				return "", fmt.Errorf("collector address %q: want HOST or HOST:PORT", s)
			}
		}
		if strings.ContainsAny(host, "[]") || (strings.Contains(host, ":") && net.ParseIP(host) == nil) {
			return "", fmt.Errorf("collector address %q: want HOST or HOST:PORT", s)
		}
	}
	if host == "" || strings.ContainsAny(host, " /\\@?#") {
		return "", fmt.Errorf("collector address %q: want HOST or HOST:PORT", s)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "", fmt.Errorf("collector address %q: port %q is not a number from 1 to 65535", s, port)
	}
	return net.JoinHostPort(host, port), nil
}

// lookupHost is the resolver (tests replace it).
var lookupHost = net.DefaultResolver.LookupHost

// resolveCollector checks that the collector's host name resolves, so that
// a typo or a missing DNS record reads as such and not as gRPC's resolver
// error after the enrollment timeout.
func resolveCollector(ctx context.Context, addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if net.ParseIP(host) != nil {
		return nil
	}
	if _, err := lookupHost(ctx, host); err != nil {
		var dnsErr *net.DNSError
		if errors.As(err, &dnsErr) && dnsErr.Err != "" {
			err = errors.New(dnsErr.Err)
		}
		return fmt.Errorf("cannot resolve collector host %s: %w", host, err)
	}
	return nil
}
