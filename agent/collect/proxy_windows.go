package collect

import (
	"context"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/registry"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

const internetSettings = `Software\Microsoft\Windows\CurrentVersion\Internet Settings`

// proxySettings reads the console user's Internet Settings (what browsers
// and WinINet apps follow) and the machine's WinHTTP proxy (what services
// follow). A service runs as SYSTEM, whose HKCU is not the user's: it opens
// HKU\<SID of the console user>, and falls back to HKCU when the agent runs
// in the user's session.
func proxySettings(ctx context.Context, env *Env) (*pb.Proxy, error) {
	user, err := userInternetSettings()
	if out, cerr := env.Command(ctx, "netsh", "winhttp", "show", "proxy"); cerr == nil {
		user = mergeProxy(user, parseNetshWinhttp(out))
	}
	return user, err
}

func userInternetSettings() (*pb.Proxy, error) {
	k, err := openConsoleUserKey(internetSettings)
	if err != nil {
		return nil, err
	}
	defer k.Close()
	enable, _, _ := k.GetIntegerValue("ProxyEnable")
	server, _, _ := k.GetStringValue("ProxyServer")
	override, _, _ := k.GetStringValue("ProxyOverride")
	pac, _, _ := k.GetStringValue("AutoConfigURL")
	return windowsProxy(enable, server, override, pac), nil
}

// openConsoleUserKey opens path in the hive of the user at the console
// (WTSQueryUserToken needs SYSTEM), or in HKCU.
func openConsoleUserKey(path string) (registry.Key, error) {
	if sid, err := consoleUserSID(); err == nil {
		if k, err := registry.OpenKey(registry.USERS, sid+`\`+path, registry.QUERY_VALUE); err == nil {
			return k, nil
		}
	}
	return registry.OpenKey(registry.CURRENT_USER, path, registry.QUERY_VALUE)
}

func consoleUserSID() (string, error) {
	var tok windows.Token
	if err := windows.WTSQueryUserToken(windows.WTSGetActiveConsoleSessionId(), &tok); err != nil {
		return "", err
	}
	defer tok.Close()
	u, err := tok.GetTokenUser()
	if err != nil {
		return "", err
	}
	return u.User.Sid.String(), nil
}
