package main

import (
	"context"
	"errors"
	"fmt"
	"io"
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

// collectorAddrs is the list of collector addresses IT gave, comma-separated
// ("a.example.com:7443,b.example.com:7443"), in order of preference, each
// as collectorAddr makes it. An empty entry or one given twice is refused:
// both are typos that would otherwise go unnoticed until a failover.
func collectorAddrs(s string) ([]string, error) {
	if strings.TrimSpace(s) == "" {
		return nil, errors.New("collector address is empty: want HOST[:PORT], or several separated by commas")
	}
	parts := strings.Split(s, ",")
	if len(parts) == 1 {
		addr, err := collectorAddr(s)
		if err != nil {
			return nil, err
		}
		return []string{addr}, nil
	}
	addrs := make([]string, 0, len(parts))
	seen := map[string]int{}
	for i, p := range parts {
		if strings.TrimSpace(p) == "" {
			return nil, fmt.Errorf("collector list %q: entry %d is empty (a stray comma?)", s, i+1)
		}
		addr, err := collectorAddr(p)
		if err != nil {
			return nil, fmt.Errorf("collector list, entry %d: %w", i+1, err)
		}
		if j, ok := seen[addr]; ok {
			return nil, fmt.Errorf("collector list %q: entries %d and %d are both %s", s, j, i+1, addr)
		}
		seen[addr] = i + 1
		addrs = append(addrs, addr)
	}
	return addrs, nil
}

// resolveCollectors resolves every collector host name (resolveCollector).
// One that does not resolve fails the list only when none does: a fallback
// whose DNS record is not there yet must not stop the enrollment, but is
// named on warn.
func resolveCollectors(ctx context.Context, addrs []string, warn io.Writer) error {
	var errs []error
	for _, addr := range addrs {
		if err := resolveCollector(ctx, addr); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) == len(addrs) {
		return errors.Join(errs...)
	}
	for _, err := range errs {
		fmt.Fprintf(warn, "warning: %v; the agent tries it again at each failover\n", err)
	}
	return nil
}
