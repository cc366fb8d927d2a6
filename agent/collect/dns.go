package collect

import (
	"bufio"
	"bytes"
	"context"
	"net/netip"
	"strings"
	"time"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

func init() { register("dns", 5*time.Second, collectDNS) }

func collectDNS(ctx context.Context, env *Env, r *pb.Report) error {
	servers, err := dnsServers(ctx, env)
	if err != nil {
		return err
	}
	if r.Network == nil {
		r.Network = &pb.Network{}
	}
	r.Network.DnsServers = servers
	return nil
}

// parseResolvConf returns the nameserver lines of a resolv.conf.
func parseResolvConf(b []byte) []string {
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[0] == "nameserver" {
			if a, err := netip.ParseAddr(strings.SplitN(f[1], "%", 2)[0]); err == nil {
				out = append(out, a.String())
			}
		}
	}
	return out
}
