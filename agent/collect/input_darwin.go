package collect

import (
	"context"
	"fmt"
	"path"
	"strings"
)

// readInputSources on macOS: the console user's enabled input sources from
// ~/Library/Preferences/com.apple.HIToolbox.plist, extracted as JSON by
// plutil, else printed by defaults.
func readInputSources(ctx context.Context, env *Env) (inputSources, error) {
	home := consoleHome(ctx, env)
	if home == "" {
		return inputSources{}, nil // at the login window
	}
	plist := path.Join(home, "Library/Preferences/com.apple.HIToolbox.plist")
	out, err := env.Command(ctx, "plutil", "-extract", "AppleEnabledInputSources", "json", "-o", "-", plist)
	if err == nil {
		if s, perr := parseHIToolboxJSON(out); perr == nil {
			return s, nil
		}
	}
	out, derr := env.Command(ctx, "defaults", "read", plist, "AppleEnabledInputSources")
	if derr != nil {
		return inputSources{}, fmt.Errorf("%s: plutil: %v; defaults: %w", plist, err, derr)
	}
	return parseHIToolboxDefaults(out), nil
}

// consoleHome is the home of the user owning /dev/console (root at the
// login window).
func consoleHome(ctx context.Context, env *Env) string {
	out, err := env.Command(ctx, "stat", "-f", "%Su", "/dev/console")
	user := strings.TrimSpace(string(out))
	if err != nil || user == "" || user == "root" || strings.ContainsAny(user, "/ ") {
		return ""
	}
	return "/Users/" + user
}

// osLocaleName: launchd starts the agent without LANG; the console user's
// AppleLocale (e.g. ko_KR) is the locale they chose.
func osLocaleName(ctx context.Context, env *Env) string {
	home := consoleHome(ctx, env)
	if home == "" {
		return ""
	}
	out, err := env.Command(ctx, "defaults", "read", path.Join(home, "Library/Preferences/.GlobalPreferences"), "AppleLocale")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}
