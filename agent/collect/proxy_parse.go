package collect

import (
	"bufio"
	"bytes"
	"net"
	"strconv"
	"strings"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

func emptyProxy(p *pb.Proxy) bool {
	return p.GetHttp() == "" && p.GetHttps() == "" && p.GetPacUrl() == "" && p.GetSocks() == ""
}

// mergeProxy fills b's empty fields from a later source and joins the
// sources that contributed ("env+gsettings"). A source with nothing
// configured is ignored.
func mergeProxy(a, b *pb.Proxy) *pb.Proxy {
	if b == nil || emptyProxy(b) {
		return a
	}
	if a == nil || emptyProxy(a) {
		return b
	}
	fill := func(dst *string, v string) {
		if *dst == "" {
			*dst = v
		}
	}
	fill(&a.Http, b.Http)
	fill(&a.Https, b.Https)
	fill(&a.PacUrl, b.PacUrl)
	fill(&a.NoProxy, b.NoProxy)
	fill(&a.Socks, b.Socks)
	a.Source += "+" + b.Source
	return a
}

// proxyFromEnv reads the conventional variables, upper case first (curl
// and Go read both). ALL_PROXY fills SOCKS when it names a socks URL, and
// HTTP/HTTPS otherwise.
func proxyFromEnv(getenv func(string) string) *pb.Proxy {
	get := func(k string) string {
		if v := strings.TrimSpace(getenv(k)); v != "" {
			return v
		}
		return strings.TrimSpace(getenv(strings.ToLower(k)))
	}
	p := &pb.Proxy{Http: get("HTTP_PROXY"), Https: get("HTTPS_PROXY"), NoProxy: get("NO_PROXY"), Source: "env"}
	if all := get("ALL_PROXY"); all != "" {
		if strings.HasPrefix(strings.ToLower(all), "socks") {
			p.Socks = all
		} else {
			if p.Http == "" {
				p.Http = all
			}
			if p.Https == "" {
				p.Https = all
			}
		}
	}
	return p
}

// gsettingsWPAD is the pac_url reported when GNOME is set to discover the
// proxy (mode 'auto' without a URL).
const gsettingsWPAD = "wpad"

// parseGsettingsProxy reads `gsettings list-recursively
// org.gnome.system.proxy`:
//
//	org.gnome.system.proxy mode 'manual'
//	org.gnome.system.proxy.http host 'proxy.example'
//	org.gnome.system.proxy.http port 3128
//
// Hosts and ports count only in mode 'manual', the URL only in mode 'auto'.
func parseGsettingsProxy(b []byte) *pb.Proxy {
	vals := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.SplitN(strings.TrimSpace(sc.Text()), " ", 3)
		if len(f) != 3 || !strings.HasPrefix(f[0], "org.gnome.system.proxy") {
			continue
		}
		schema := strings.TrimPrefix(strings.TrimPrefix(f[0], "org.gnome.system.proxy"), ".")
		vals[schema+" "+f[1]] = f[2]
	}
	str := func(k string) string { return strings.Trim(vals[k], "'") }
	p := &pb.Proxy{Source: "gsettings"}
	switch str(" mode") {
	case "manual":
		hostPort := func(schema string) string {
			h := str(schema + " host")
			port, _ := strconv.Atoi(vals[schema+" port"])
			// The schema's range is 0..65535 and GNOME ignores port 0, so
			// anything else is a damaged line, not a proxy.
			if h == "" || port <= 0 || port > 65535 {
				return ""
			}
			return net.JoinHostPort(h, strconv.Itoa(port))
		}
		p.Http, p.Https, p.Socks = hostPort("http"), hostPort("https"), hostPort("socks")
		p.NoProxy = gvariantStringList(vals[" ignore-hosts"])
	case "auto":
		p.PacUrl = str(" autoconfig-url")
		if p.PacUrl == "" {
			p.PacUrl = gsettingsWPAD
		}
	}
	return p
}

// gvariantStringList turns "['localhost', '127.0.0.0/8']" into
// "localhost,127.0.0.0/8" (the NO_PROXY form); "@as []" is empty.
func gvariantStringList(v string) string {
	v = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), "@as"))
	v = strings.TrimSuffix(strings.TrimPrefix(v, "["), "]")
	var out []string
	for _, item := range strings.Split(v, ",") {
		if item = strings.Trim(strings.TrimSpace(item), "'"); item != "" {
			out = append(out, item)
		}
	}
	return strings.Join(out, ",")
}

// parseScutilProxy reads macOS `scutil --proxy`, a dictionary of the
// primary service's proxies:
//
//	HTTPEnable : 1
//	HTTPProxy : proxy.example.com
//	HTTPPort : 8080
//	ExceptionsList : <array> {
//	  0 : *.local
//	}
func parseScutilProxy(b []byte) *pb.Proxy {
	vals := map[string]string{}
	var exceptions []string
	inExceptions := false
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if inExceptions {
			if line == "}" {
				inExceptions = false
				continue
			}
			if _, v, ok := strings.Cut(line, " : "); ok {
				exceptions = append(exceptions, strings.TrimSpace(v))
			}
			continue
		}
		k, v, ok := strings.Cut(line, " : ")
		if !ok {
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if k == "ExceptionsList" {
			inExceptions = strings.HasPrefix(v, "<array>")
			continue
		}
		vals[k] = v
	}
	hostPort := func(prefix string) string {
		if vals[prefix+"Enable"] != "1" || vals[prefix+"Proxy"] == "" {
			return ""
		}
		// A port that is not one (damaged or cut output) leaves the host:
		// the proxy is configured all the same.
		if !validPort(vals[prefix+"Port"]) {
			return vals[prefix+"Proxy"]
		}
		return net.JoinHostPort(vals[prefix+"Proxy"], vals[prefix+"Port"])
	}
	p := &pb.Proxy{Source: "scutil", Http: hostPort("HTTP"), Https: hostPort("HTTPS"), Socks: hostPort("SOCKS")}
	if vals["ProxyAutoConfigEnable"] == "1" {
		p.PacUrl = vals["ProxyAutoConfigURLString"]
	}
	if p.PacUrl == "" && vals["ProxyAutoDiscoveryEnable"] == "1" {
		p.PacUrl = gsettingsWPAD
	}
	if !emptyProxy(p) {
		p.NoProxy = strings.Join(exceptions, ",")
	}
	return p
}

// windowsProxy interprets the Internet Settings values of a user:
// ProxyEnable (DWORD), ProxyServer ("host:port" for every protocol, or
// "http=h:p;https=h:p;socks=h:p"), ProxyOverride ("<local>;*.corp") and
// AutoConfigURL.
func windowsProxy(enable uint64, server, override, autoConfigURL string) *pb.Proxy {
	p := &pb.Proxy{Source: "registry", PacUrl: strings.TrimSpace(autoConfigURL)}
	if enable != 0 && strings.TrimSpace(server) != "" {
		if !strings.Contains(server, "=") {
			s := withoutBadPort(strings.TrimSpace(server))
			p.Http, p.Https = s, s
		} else {
			for _, part := range strings.Split(server, ";") {
				k, v, ok := strings.Cut(part, "=")
				if !ok {
					continue
				}
				v = withoutBadPort(strings.TrimSpace(v))
				switch strings.ToLower(strings.TrimSpace(k)) {
				case "http":
					p.Http = v
				case "https":
					p.Https = v
				case "socks":
					p.Socks = v
				}
			}
		}
		// Exceptions of a server list that named no HTTP, HTTPS or SOCKS
		// proxy (only ftp=, or damaged) would stand for a proxy nobody uses.
		if p.Http != "" || p.Https != "" || p.Socks != "" {
			p.NoProxy = strings.Join(strings.FieldsFunc(override, func(r rune) bool { return r == ';' }), ",")
		}
	}
	return p
}

// parseNetshWinhttp reads `netsh winhttp show proxy`. The keys are
// translated, so it keys on shape: the first "key : value" line names the
// proxy servers (in ProxyServer's syntax), the second the bypass list;
// direct access has no such line.
func parseNetshWinhttp(b []byte) *pb.Proxy {
	var values []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		_, v, ok := strings.Cut(sc.Text(), " : ")
		if !ok {
			continue
		}
		if v = strings.TrimSpace(v); v != "" {
			values = append(values, v)
		}
	}
	if len(values) == 0 {
		return &pb.Proxy{Source: "winhttp"}
	}
	override := ""
	if len(values) > 1 && !strings.HasPrefix(values[1], "(") { // "(none)"
		override = values[1]
	}
	p := windowsProxy(1, values[0], override, "")
	p.Source = "winhttp"
	return p
}

// validPort tells whether s is a TCP port number, 1 to 65535.
func validPort(s string) bool {
	n, err := strconv.Atoi(s)
	return err == nil && n >= 1 && n <= 65535 && s == strconv.Itoa(n)
}

// withoutBadPort drops a numeric port outside 1..65535 from a "host:port"
// typed by hand (Windows keeps ProxyServer as free text): the host still
// says a proxy is configured, the port would name no TCP port.
func withoutBadPort(ep string) string {
	i := strings.LastIndexByte(ep, ':')
	if i < 0 || i == len(ep)-1 || strings.Trim(ep[i+1:], "0123456789") != "" {
		return ep
	}
	if validPort(strings.TrimLeft(ep[i+1:], "0")) {
		return ep
	}
	return withoutBadPort(ep[:i]) // "host:0:0" is no better for one cut
}
