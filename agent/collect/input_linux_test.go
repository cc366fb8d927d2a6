package collect

import (
	"context"
	"fmt"
	"os"
	"reflect"
	"testing"
)

func TestLocaleInputSourcesLinux(t *testing.T) {
	env := fixtureEnv(t, "input/root", january)
	var ran [][]string
	env.Command = func(_ context.Context, name string, args ...string) ([]byte, error) {
		ran = append(ran, append([]string{name}, args...))
		if name == "runuser" || name == "env" {
			return testdataFile(t, "linux", "input/gsettings-input-sources.txt"), nil
		}
		return nil, fmt.Errorf("%s: not expected", name)
	}
	env.Getenv = func(k string) string {
		if k == "TZ" {
			return "America/Chicago"
		}
		return ""
	}
	r := Collect(context.Background(), env, Options{Only: []string{"locale"}})
	if len(r.GetErrors()) != 0 {
		t.Fatalf("errors: %v", r.GetErrors())
	}
	l := r.GetLocale()
	if want := []string{"us", "ru", "kr+kr104"}; !reflect.DeepEqual(l.GetKeyboardLayouts(), want) {
		t.Errorf("layouts %q, want %q", l.GetKeyboardLayouts(), want)
	}
	if want := []string{"pinyin", "hangul", "mozc-jp"}; !reflect.DeepEqual(l.GetInputMethods(), want) {
		t.Errorf("methods %q, want %q", l.GetInputMethods(), want)
	}
	if want := []string{"en", "ru", "ko", "zh", "ja"}; !reflect.DeepEqual(l.GetInputLanguages(), want) {
		t.Errorf("languages %q, want %q", l.GetInputLanguages(), want)
	}
	// Only alice (uid 1000) is logged on; gsettings runs as her, with her home.
	if len(ran) != 1 {
		t.Fatalf("commands %q", ran)
	}
	cmd := ran[0]
	if os.Geteuid() == 0 && (cmd[0] != "runuser" || cmd[2] != "alice") {
		t.Errorf("gsettings not run as alice: %q", cmd)
	}
	if !containsAll(cmd, "HOME=/home/alice", "XDG_RUNTIME_DIR=/run/user/1000", "gsettings", "org.gnome.desktop.input-sources") {
		t.Errorf("command %q", cmd)
	}
}

func containsAll(list []string, want ...string) bool {
	for _, w := range want {
		if !contains(list, w) {
			return false
		}
	}
	return true
}
