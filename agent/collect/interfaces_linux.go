package collect

import (
	"context"
	"os"
	"strings"
)

// interfaceClassifier classifies each interface from sysfs.
func interfaceClassifier(_ context.Context, env *Env) func(name string, flags []string) string {
	return func(name string, flags []string) string { return interfaceKind(env, name, flags) }
}

// interfaceKind uses sysfs: a wireless/ or phy80211 entry means Wi-Fi, ARP
// type 65534 (ARPHRD_NONE) or 512 (PPP) a tunnel, no device link a virtual
// interface; the name decides the rest.
func interfaceKind(env *Env, name string, flags []string) string {
	byName := kindFromName(name, flags)
	if byName == KindLoopback || byName == KindVPN {
		return byName
	}
	base := env.Path("sys/class/net", name)
	if _, err := os.Stat(base); err != nil {
		return byName
	}
	if exists(base+"/wireless") || exists(base+"/phy80211") {
		return KindWifi
	}
	if t, err := os.ReadFile(base + "/type"); err == nil {
		switch strings.TrimSpace(string(t)) {
		case "65534", "512", "778":
			return KindVPN
		case "772":
			return KindLoopback
		}
	}
	if !exists(base + "/device") {
		return KindVirtual
	}
	return KindPhysical
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}
