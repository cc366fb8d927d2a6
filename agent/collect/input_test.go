package collect

import (
	"reflect"
	"slices"
	"testing"
	"time"
)

func TestParseGsettingsSources(t *testing.T) {
	got := parseGsettingsSources(testdataFile(t, "linux", "input/gsettings-input-sources.txt"))
	want := inputSources{Layouts: []string{"us", "kr+kr104"}, Methods: []string{"hangul", "mozc-jp"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if got := parseGsettingsSources([]byte("@a(ss) []\n")); len(got.Layouts)+len(got.Methods) != 0 {
		t.Errorf("empty list: %+v", got)
	}
	if got := inputLanguages("linux", want); !reflect.DeepEqual(got, []string{"en", "ko", "ja"}) {
		t.Errorf("languages %q", got)
	}
}

func TestParseSystemKeyboard(t *testing.T) {
	for _, f := range []string{"input/root/etc/default/keyboard", "input/root/etc/X11/xorg.conf.d/00-keyboard.conf"} {
		if got := parseSystemKeyboard(testdataFile(t, "linux", f)); !reflect.DeepEqual(got, []string{"us", "ru"}) {
			t.Errorf("%s: %q", f, got)
		}
	}
}

func TestParseFcitx5Profile(t *testing.T) {
	got := parseFcitx5Profile(testdataFile(t, "linux", "input/root/home/alice/.config/fcitx5/profile"))
	want := inputSources{Layouts: []string{"us"}, Methods: []string{"pinyin", "hangul"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

func TestParseHIToolbox(t *testing.T) {
	want := inputSources{Layouts: []string{"U.S.", "Russian - Phonetic"},
		Methods: []string{"com.apple.inputmethod.Korean.2SetKorean", "com.apple.inputmethod.SCIM.ITABC"}}
	got, err := parseHIToolboxJSON(testdataFile(t, "darwin", "hitoolbox-enabled-input-sources.json"))
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("plutil JSON: got %+v (%v), want %+v", got, err, want)
	}
	if got := parseHIToolboxDefaults(testdataFile(t, "darwin", "hitoolbox-defaults.txt")); !reflect.DeepEqual(got, want) {
		t.Errorf("defaults: got %+v, want %+v", got, want)
	}
	if got := inputLanguages("darwin", want); !reflect.DeepEqual(got, []string{"en", "ru", "ko", "zh"}) {
		t.Errorf("languages %q", got)
	}
}

func TestInputLanguages(t *testing.T) {
	tests := []struct {
		goos string
		in   inputSources
		want []string
	}{
		{"linux", inputSources{Layouts: []string{"us(intl)", "cn", "ua"}}, []string{"en", "zh", "uk"}},
		{"linux", inputSources{Methods: []string{"xkb:ru::rus", "m17n:ko:romaja", "table:wubi-jidian86", "rime", "anthy", "unknown"}},
			[]string{"ru", "ko", "zh", "ja"}},
		{"darwin", inputSources{Layouts: []string{"Canadian French - CSA", "ABC", "Ukrainian-PC"}}, []string{"fr", "en", "uk"}},
		{"darwin", inputSources{Methods: []string{"com.apple.inputmethod.TCIM.Zhuyin", "com.apple.inputmethod.Kotoeri.RomajiTyping.Japanese",
			"com.sogou.inputmethod.sogou.pinyin", "com.google.inputmethod.Japanese.base"}}, []string{"zh", "ja"}},
		{"windows", inputSources{Layouts: []string{"00000409", "00000412", "00000804", "00000419", "00000411", "00000422", "00010409"}},
			[]string{"en", "ko", "zh", "ru", "ja", "uk"}},
		{"windows", inputSources{Methods: []string{"E0010412", "e0200804"}}, []string{"ko", "zh"}},
	}
	for _, tt := range tests {
		if got := inputLanguages(tt.goos, tt.in); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s %+v: got %q, want %q", tt.goos, tt.in, got, tt.want)
		}
	}
}

func TestWindowsPreload(t *testing.T) {
	// Preload 1=00000409 2=00000412 3=d0010804 (substituted) 4=E0010412 (legacy IME) 5=00000409 (duplicate)
	got := windowsPreload([]string{"00000409", "00000412", "d0010804", "E0010412", "00000409"},
		map[string]string{"D0010804": "00000804"})
	want := inputSources{Layouts: []string{"00000409", "00000412", "00000804"}, Methods: []string{"E0010412"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

func TestWindowsZones(t *testing.T) {
	for id, zone := range windowsZones {
		if _, err := time.LoadLocation(zone); err != nil {
			t.Errorf("%q -> %q: %v", id, zone, err)
		}
	}
	// Standard offsets in January, of zones a laptop farm case turns on.
	tests := map[string]int{
		"Pacific Standard Time": -8, "Mountain Standard Time": -7, "US Mountain Standard Time": -7,
		"Central Standard Time": -6, "Eastern Standard Time": -5, "US Eastern Standard Time": -5,
		"Alaskan Standard Time": -9, "Hawaiian Standard Time": -10, "Atlantic Standard Time": -4,
		"Canada Central Standard Time": -6, "GMT Standard Time": 0, "W. Europe Standard Time": 1,
		"FLE Standard Time": 2, "Russian Standard Time": 3, "India Standard Time": 5,
		"China Standard Time": 8, "Korea Standard Time": 9, "North Korea Standard Time": 9,
		"Tokyo Standard Time": 9, "AUS Eastern Standard Time": 11, "W. Australia Standard Time": 8,
		"Vladivostok Standard Time": 10, "UTC": 0, "Dateline Standard Time": -12, "UTC+13": 13,
	}
	for id, hours := range tests {
		zone, ok := ianaFromWindowsZone(id)
		if !ok {
			t.Errorf("%q unmapped", id)
			continue
		}
		loc, _ := time.LoadLocation(zone)
		if _, off := january.In(loc).Zone(); off/3600 != hours {
			t.Errorf("%q -> %s: offset %d h in January, want %d", id, zone, off/3600, hours)
		}
	}
	if _, ok := ianaFromWindowsZone("Mars Standard Time"); ok {
		t.Error("unknown zone mapped")
	}
}

// TestInputSourcesWithoutName: entries that name nothing and m17n's
// language-independent methods (filed under "t") give no layout, method or
// language, the shapes FuzzInputSources found.
func TestInputSourcesWithoutName(t *testing.T) {
	gs := parseGsettingsSources([]byte("[('xkb', ''), ('ibus', ' '), ('xkb', 'us'), ('ibus', 'm17n:t:latn-post'), ('ibus', 'm17n:hi:itrans')]"))
	if !slices.Equal(gs.Layouts, []string{"us"}) || !slices.Equal(gs.Methods, []string{"m17n:t:latn-post", "m17n:hi:itrans"}) {
		t.Errorf("gsettings sources %+v", gs)
	}
	if got := inputLanguages("linux", gs); !slices.Equal(got, []string{"en", "hi"}) {
		t.Errorf("languages %q, want [en hi]", got)
	}
	fc := parseFcitx5Profile([]byte("[Groups/0/Items/0]\nName=keyboard-\n[Groups/0/Items/1]\nName=keyboard-us\n"))
	if !slices.Equal(fc.Layouts, []string{"us"}) || len(fc.Methods) != 0 {
		t.Errorf("fcitx5 profile %+v", fc)
	}
}
