package collect

import (
	"testing"

	"google.golang.org/protobuf/proto"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

func equalProxy(t *testing.T, name string, got, want *pb.Proxy) {
	t.Helper()
	if !proto.Equal(got, want) {
		t.Errorf("%s: got  %v\nwant %v", name, got, want)
	}
}

func TestProxyFromEnv(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want *pb.Proxy
	}{
		{"upper case wins over lower case", map[string]string{"HTTP_PROXY": "http://10.0.0.5:3128", "http_proxy": "http://other:1",
			"https_proxy": "http://10.0.0.5:3128", "no_proxy": "localhost,.corp"},
			&pb.Proxy{Http: "http://10.0.0.5:3128", Https: "http://10.0.0.5:3128", NoProxy: "localhost,.corp", Source: "env"}},
		{"socks ALL_PROXY", map[string]string{"ALL_PROXY": "socks5h://127.0.0.1:1080"},
			&pb.Proxy{Socks: "socks5h://127.0.0.1:1080", Source: "env"}},
		{"http ALL_PROXY fills the gaps", map[string]string{"all_proxy": "http://p:8080", "HTTPS_PROXY": "http://s:443"},
			&pb.Proxy{Http: "http://p:8080", Https: "http://s:443", Source: "env"}},
		{"blank values", map[string]string{"HTTP_PROXY": "  "}, &pb.Proxy{Source: "env"}},
		{"none", nil, &pb.Proxy{Source: "env"}},
	}
	for _, tt := range tests {
		equalProxy(t, tt.name, proxyFromEnv(func(k string) string { return tt.env[k] }), tt.want)
	}
}

func TestParseGsettingsProxy(t *testing.T) {
	equalProxy(t, "manual", parseGsettingsProxy(testdataFile(t, "linux", "commands/gsettings-proxy-manual.txt")),
		&pb.Proxy{Http: "proxy.example:3128", Socks: "127.0.0.1:1080", NoProxy: "localhost,127.0.0.0/8,::1", Source: "gsettings"})
	equalProxy(t, "none ignores stale hosts", parseGsettingsProxy(testdataFile(t, "linux", "commands/gsettings-proxy-none.txt")),
		&pb.Proxy{Source: "gsettings"})
	equalProxy(t, "auto with URL", parseGsettingsProxy(testdataFile(t, "linux", "commands/gsettings-proxy-auto.txt")),
		&pb.Proxy{PacUrl: "http://pac.corp.example/proxy.pac", Source: "gsettings"})
	equalProxy(t, "auto discovery", parseGsettingsProxy([]byte("org.gnome.system.proxy mode 'auto'\norg.gnome.system.proxy autoconfig-url ''\n")),
		&pb.Proxy{PacUrl: gsettingsWPAD, Source: "gsettings"})
	equalProxy(t, "IPv6 host", parseGsettingsProxy([]byte("org.gnome.system.proxy mode 'manual'\norg.gnome.system.proxy.https host '::1'\norg.gnome.system.proxy.https port 8443\n")),
		&pb.Proxy{Https: "[::1]:8443", Source: "gsettings"})
	equalProxy(t, "empty", parseGsettingsProxy(nil), &pb.Proxy{Source: "gsettings"})
	if got := gvariantStringList("@as []"); got != "" {
		t.Errorf("empty gvariant list = %q", got)
	}
}

func TestParseScutilProxy(t *testing.T) {
	equalProxy(t, "manual", parseScutilProxy(testdataFile(t, "darwin", "scutil-proxy.txt")),
		&pb.Proxy{Http: "192.168.1.20:3128", Https: "192.168.1.20:3128", Socks: "127.0.0.1:1080", NoProxy: "*.local,169.254/16", Source: "scutil"})
	equalProxy(t, "none keeps no exceptions", parseScutilProxy(testdataFile(t, "darwin", "scutil-proxy-none.txt")),
		&pb.Proxy{Source: "scutil"})
	equalProxy(t, "PAC", parseScutilProxy(testdataFile(t, "darwin", "scutil-proxy-pac.txt")),
		&pb.Proxy{PacUrl: "http://pac.corp.example/proxy.pac", NoProxy: "*.local", Source: "scutil"})
	equalProxy(t, "WPAD, host without port", parseScutilProxy([]byte("<dictionary> {\n  ProxyAutoDiscoveryEnable : 1\n  HTTPEnable : 1\n  HTTPProxy : p.example\n}\n")),
		&pb.Proxy{Http: "p.example", PacUrl: gsettingsWPAD, Source: "scutil"})
}

func TestWindowsProxy(t *testing.T) {
	equalProxy(t, "one server for all", windowsProxy(1, "10.0.0.5:8080", "<local>;*.corp", ""),
		&pb.Proxy{Http: "10.0.0.5:8080", Https: "10.0.0.5:8080", NoProxy: "<local>,*.corp", Source: "registry"})
	equalProxy(t, "per protocol", windowsProxy(1, "http=h:80;https=s:443;socks=127.0.0.1:1080;ftp=f:21", "", ""),
		&pb.Proxy{Http: "h:80", Https: "s:443", Socks: "127.0.0.1:1080", Source: "registry"})
	equalProxy(t, "disabled server, PAC still applies", windowsProxy(0, "10.0.0.5:8080", "", "http://wpad/wpad.dat"),
		&pb.Proxy{PacUrl: "http://wpad/wpad.dat", Source: "registry"})
	equalProxy(t, "nothing", windowsProxy(0, "", "", ""), &pb.Proxy{Source: "registry"})
}

func TestParseNetshWinhttp(t *testing.T) {
	equalProxy(t, "English", parseNetshWinhttp(testdataFile(t, "windows", "netsh-winhttp-show-proxy.txt")),
		&pb.Proxy{Http: "192.168.1.20:3128", Https: "192.168.1.20:3128", NoProxy: "<local>,*.corp.example", Source: "winhttp"})
	equalProxy(t, "direct", parseNetshWinhttp(testdataFile(t, "windows", "netsh-winhttp-show-proxy-direct.txt")),
		&pb.Proxy{Source: "winhttp"})
	equalProxy(t, "German, no bypass list", parseNetshWinhttp(testdataFile(t, "windows", "netsh-winhttp-show-proxy-de.txt")),
		&pb.Proxy{Http: "proxy.corp.example:8080", Https: "proxy.corp.example:8080", Source: "winhttp"})
}

func TestMergeProxy(t *testing.T) {
	env := &pb.Proxy{Http: "http://e:1", Source: "env"}
	gs := &pb.Proxy{Http: "g:2", Https: "g:3", Source: "gsettings"}
	equalProxy(t, "fills gaps", mergeProxy(proto.Clone(env).(*pb.Proxy), gs),
		&pb.Proxy{Http: "http://e:1", Https: "g:3", Source: "env+gsettings"})
	equalProxy(t, "empty first", mergeProxy(&pb.Proxy{Source: "env"}, gs), gs)
	equalProxy(t, "empty second", mergeProxy(env, &pb.Proxy{Source: "gsettings"}), env)
	equalProxy(t, "nil second", mergeProxy(env, nil), env)
	if got := mergeProxy(nil, nil); got != nil {
		t.Errorf("nil, nil = %v", got)
	}
}

// TestProxyPortsOutOfRange: damaged or hand-typed settings whose port is no
// TCP port (the shapes FuzzProxy found) keep the host or read as no proxy,
// never "host:70000".
func TestProxyPortsOutOfRange(t *testing.T) {
	gs := []byte("org.gnome.system.proxy mode 'manual'\n" +
		"org.gnome.system.proxy.http host 'proxy.example'\n" +
		"org.gnome.system.proxy.http port 99999\n" +
		"org.gnome.system.proxy.socks host 'socks.example'\n" +
		"org.gnome.system.proxy.socks port 1080\n")
	equalProxy(t, "gsettings port above 65535", parseGsettingsProxy(gs),
		&pb.Proxy{Source: "gsettings", Socks: "socks.example:1080"})

	sc := []byte("<dictionary> {\n  HTTPEnable : 1\n  HTTPPort : 0\n  HTTPProxy : proxy.example\n" +
		"  HTTPSEnable : 1\n  HTTPSPort : 8O80\n  HTTPSProxy : proxy.example\n}\n")
	equalProxy(t, "scutil port 0 and a port that is not a number", parseScutilProxy(sc),
		&pb.Proxy{Source: "scutil", Http: "proxy.example", Https: "proxy.example"})

	equalProxy(t, "registry server with port 70000", windowsProxy(1, "proxy.example:70000", "<local>", ""),
		&pb.Proxy{Source: "registry", Http: "proxy.example", Https: "proxy.example", NoProxy: "<local>"})
	equalProxy(t, "registry per protocol, ports 0 and 0:0", windowsProxy(1, "http=[::1]:0;https=h:0:0;socks=s:1080", "", ""),
		&pb.Proxy{Source: "registry", Http: "[::1]", Https: "h", Socks: "s:1080"})
	equalProxy(t, "netsh server list without a usable proxy keeps no exceptions",
		parseNetshWinhttp([]byte("    Proxy Server(s) :  ftp=ftp.example:21\n    Bypass List     :  <local>\n")),
		&pb.Proxy{Source: "winhttp"})
}
