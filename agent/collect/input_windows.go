package collect

import (
	"context"
	"sort"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/registry"
)

var procGetUserDefaultLocaleName = windows.NewLazySystemDLL("kernel32.dll").NewProc("GetUserDefaultLocaleName")

// readInputSources on Windows: the preloaded keyboard layouts (KLIDs) of
// every logged-on user, whose hives are loaded under HKEY_USERS only while
// they are logged on. Substitutes replace a KLID by the layout in use.
func readInputSources(_ context.Context, _ *Env) (inputSources, error) {
	var s inputSources
	for _, sid := range loadedUserSIDs() {
		subst := map[string]string{}
		if k, err := registry.OpenKey(registry.USERS, sid+`\Keyboard Layout\Substitutes`, registry.QUERY_VALUE); err == nil {
			names, _ := k.ReadValueNames(-1)
			for _, n := range names {
				if v, _, err := k.GetStringValue(n); err == nil {
					subst[strings.ToUpper(n)] = v
				}
			}
			k.Close()
		}
		k, err := registry.OpenKey(registry.USERS, sid+`\Keyboard Layout\Preload`, registry.QUERY_VALUE)
		if err != nil {
			continue
		}
		names, _ := k.ReadValueNames(-1)
		sort.Slice(names, func(i, j int) bool { a, _ := strconv.Atoi(names[i]); b, _ := strconv.Atoi(names[j]); return a < b })
		var klids []string
		for _, n := range names {
			if v, _, err := k.GetStringValue(n); err == nil {
				klids = append(klids, v)
			}
		}
		k.Close()
		s.add(windowsPreload(klids, subst))
	}
	return s, nil
}

// loadedUserSIDs lists the hives of logged-on users (S-1-5-21-...), not
// their _Classes companions nor the service accounts.
func loadedUserSIDs() []string {
	k, err := registry.OpenKey(registry.USERS, "", registry.ENUMERATE_SUB_KEYS)
	if err != nil {
		return nil
	}
	defer k.Close()
	names, _ := k.ReadSubKeyNames(-1)
	var out []string
	for _, n := range names {
		if strings.HasPrefix(n, "S-1-5-21-") && !strings.HasSuffix(n, "_Classes") {
			out = append(out, n)
		}
	}
	return out
}

// osLocaleName: a logged-on user's LocaleName (Control Panel\International),
// else the agent's own user default locale.
func osLocaleName(_ context.Context, _ *Env) string {
	for _, sid := range loadedUserSIDs() {
		k, err := registry.OpenKey(registry.USERS, sid+`\Control Panel\International`, registry.QUERY_VALUE)
		if err != nil {
			continue
		}
		v, _, err := k.GetStringValue("LocaleName")
		k.Close()
		if err == nil && v != "" {
			return v
		}
	}
	if procGetUserDefaultLocaleName.Find() != nil {
		return ""
	}
	buf := make([]uint16, 85) // LOCALE_NAME_MAX_LENGTH
	n, _, _ := procGetUserDefaultLocaleName.Call(uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)))
	if n == 0 {
		return ""
	}
	return windows.UTF16ToString(buf)
}
