package collect

import (
	"regexp"
	"slices"
	"strings"
	"testing"
)

// languageCodeForm is ISO 639-1 or 639-3, the form of the collector's
// foreign_input_languages.
var languageCodeForm = regexp.MustCompile(`^[a-z]{2,3}$`)

// FuzzInputSources feeds every keyboard and input-method parser (GNOME's
// sources, the system keyboard files, fcitx5's profile, the HIToolbox list
// as JSON and as defaults prints it, /etc/passwd) the same bytes: no entry
// is empty, macOS methods are not listed twice, passwd entries are those
// asked for with an absolute home, and the languages derived on every OS
// are distinct ISO 639 codes.
func FuzzInputSources(f *testing.F) {
	addFixtureSeeds(f,
		"linux/input/gsettings-input-sources.txt",
		"linux/input/root/etc/default/keyboard",
		"linux/input/root/etc/X11/xorg.conf.d/00-keyboard.conf",
		"linux/input/root/etc/passwd",
		"linux/input/root/home/alice/.config/fcitx5/profile",
		"darwin/hitoolbox-*",
	)
	f.Add([]byte("[('xkb', ''), ('ibus', 'm17n:t:latn-post'), ('ibus', 'm17n:hi:itrans')]"))
	f.Add([]byte("[Groups/0/Items/0]\nName=keyboard-\n[Groups/0/Items/1]\nName=keyboard-us\n"))
	f.Add([]byte(`[{"InputSourceKind":"Input Mode","Bundle ID":"com.apple.inputmethod.Korean","Input Mode":"com.apple.inputmethod.Korean.2SetKorean"}]`))
	f.Add([]byte("alice:x:1000:1000:Alice,,,:/home/alice:/bin/bash\nbob:x:1001:1001::home/bob:/bin/sh\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var all []inputSources
		all = append(all, parseGsettingsSources(b), inputSources{Layouts: parseSystemKeyboard(b)}, parseFcitx5Profile(b))
		js, err := parseHIToolboxJSON(b)
		if err != nil && (len(js.Layouts) > 0 || len(js.Methods) > 0) {
			t.Fatalf("HIToolbox JSON: error %v with sources %+v", err, js)
		}
		def := parseHIToolboxDefaults(b)
		for name, s := range map[string]inputSources{"HIToolbox JSON": js, "HIToolbox defaults": def} {
			for i, m := range s.Methods {
				if slices.Contains(s.Methods[i+1:], m) {
					t.Fatalf("%s: method %q listed twice", name, m)
				}
			}
		}
		all = append(all, js, def)
		for i, s := range all {
			for _, v := range append(slices.Clone(s.Layouts), s.Methods...) {
				if strings.TrimSpace(v) == "" {
					t.Fatalf("parser %d: empty layout or method in %+v", i, s)
				}
			}
			for _, goos := range []string{"linux", "darwin", "windows"} {
				langs := inputLanguages(goos, s)
				for j, l := range langs {
					if !languageCodeForm.MatchString(l) || slices.Contains(langs[j+1:], l) {
						t.Fatalf("parser %d on %s: language %q of %+v is not a distinct ISO 639 code", i, goos, l, s)
					}
				}
			}
		}
		uids := map[string]bool{"1000": true, "1001": true}
		for _, u := range parsePasswd(b, uids) {
			if !uids[u.uid] || !strings.HasPrefix(u.home, "/") || strings.Contains(u.name, ":") {
				t.Fatalf("passwd: entry %+v", u)
			}
		}
	})
}
