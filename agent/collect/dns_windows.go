package collect

import (
	"context"
	"errors"
)

// dnsServers lists the DNS servers of the adapters that are up, from
// GetAdaptersAddresses.
func dnsServers(_ context.Context, _ *Env) ([]string, error) {
	adapters, err := windowsAdapters()
	if err != nil {
		return nil, err
	}
	if s := windowsDNSServers(adapters); len(s) > 0 {
		return s, nil
	}
	return nil, errors.New("no adapter that is up has a DNS server")
}
