package collect

import (
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// FuzzProxy feeds gsettings, `scutil --proxy` and `netsh winhttp show
// proxy` the same bytes: each returns a proxy of its own source, and an
// endpoint that ends in a numeric port names a port from 1 to 65535.
func FuzzProxy(f *testing.F) {
	addFixtureSeeds(f,
		"linux/commands/gsettings-proxy-*.txt",
		"darwin/scutil-proxy*.txt",
		"windows/netsh-winhttp-show-proxy*.txt",
	)
	f.Add([]byte("org.gnome.system.proxy mode 'manual'\norg.gnome.system.proxy.http host 'proxy'\norg.gnome.system.proxy.http port 99999\n"))
	f.Add([]byte("<dictionary> {\n  HTTPEnable : 1\n  HTTPPort : 0\n  HTTPProxy : proxy\n}\n"))
	f.Add([]byte("    Proxy Server(s) :  http=proxy:70000;https=[::1]:443\n    Bypass List     :  <local>\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, c := range []struct {
			source string
			p      *pb.Proxy
		}{
			{"gsettings", parseGsettingsProxy(b)},
			{"scutil", parseScutilProxy(b)},
			{"winhttp", parseNetshWinhttp(b)},
		} {
			if c.p == nil || c.p.GetSource() != c.source {
				t.Fatalf("%s: proxy %v", c.source, c.p)
			}
			for _, ep := range []string{c.p.GetHttp(), c.p.GetHttps(), c.p.GetSocks()} {
				if !proxyPortInRange(ep) {
					t.Fatalf("%s: endpoint %q has a port outside 1..65535", c.source, ep)
				}
				if utf8.ValidString(string(b)) && !utf8.ValidString(ep) {
					t.Fatalf("%s: endpoint %q is not UTF-8 though the input is", c.source, ep)
				}
			}
			if emptyProxy(c.p) && c.p.GetNoProxy() != "" && c.source != "gsettings" {
				t.Fatalf("%s: exceptions %q without a proxy", c.source, c.p.GetNoProxy())
			}
		}
	})
}

// proxyPortInRange tells whether an endpoint's numeric port, if it ends in
// one (":digits"), is a TCP port.
func proxyPortInRange(ep string) bool {
	i := strings.LastIndexByte(ep, ':')
	if i < 0 || i == len(ep)-1 {
		return true
	}
	digits := ep[i+1:]
	if strings.Trim(digits, "0123456789") != "" {
		return true // not a port: a host or a URL path
	}
	n, err := strconv.Atoi(digits)
	return err == nil && n >= 1 && n <= 65535
}
