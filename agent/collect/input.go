package collect

import (
	"bufio"
	"bytes"
	"encoding/json"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Keyboard layouts and input methods, parsed per OS format here and mapped to
// the languages (ISO 639-1) they type: a Korean, Chinese or Russian input
// method on a US hire's laptop is one of DESIGN section 1's habits.

// inputSources is what one OS says about one user's keyboard.
type inputSources struct {
	Layouts []string // keyboard layouts: xkb names, macOS layout names, Windows KLIDs
	Methods []string // input methods: ibus/fcitx engines, macOS bundle IDs or modes, Windows IME KLIDs
}

func (s *inputSources) add(o inputSources) {
	for _, l := range o.Layouts {
		if !slices.Contains(s.Layouts, l) {
			s.Layouts = append(s.Layouts, l)
		}
	}
	for _, m := range o.Methods {
		if !slices.Contains(s.Methods, m) {
			s.Methods = append(s.Methods, m)
		}
	}
}

var gvariantPair = regexp.MustCompile(`\(\s*'([^']*)'\s*,\s*'([^']*)'\s*\)`)

// parseGsettingsSources parses `gsettings get org.gnome.desktop.input-sources
// sources`, a GVariant a(ss): [('xkb', 'us'), ('ibus', 'hangul')], or
// "@a(ss) []" when empty.
func parseGsettingsSources(out []byte) inputSources {
	var s inputSources
	for _, m := range gvariantPair.FindAllSubmatch(out, -1) {
		kind, id := string(m[1]), string(m[2])
		if strings.TrimSpace(id) == "" {
			continue // ('xkb', '') names nothing
		}
		if kind == "xkb" {
			s.Layouts = append(s.Layouts, id)
		} else {
			s.Methods = append(s.Methods, id)
		}
	}
	return s
}

var (
	debianXKBLayout = regexp.MustCompile(`(?m)^\s*XKBLAYOUT\s*=\s*"?([^"\n]*)"?`)
	xorgXkbLayout   = regexp.MustCompile(`(?m)^\s*Option\s+"XkbLayout"\s+"([^"]*)"`)
)

// parseSystemKeyboard reads the system keyboard layouts that systemd-localed
// keeps (and `localectl status` prints as "X11 Layout"): Debian's
// /etc/default/keyboard (XKBLAYOUT="us,kr") or the X11 configuration it
// writes, /etc/X11/xorg.conf.d/00-keyboard.conf (Option "XkbLayout" "us,kr").
func parseSystemKeyboard(b []byte) []string {
	var layouts []string
	for _, re := range []*regexp.Regexp{debianXKBLayout, xorgXkbLayout} {
		for _, m := range re.FindAllSubmatch(b, -1) {
			for _, l := range strings.Split(string(m[1]), ",") {
				if l = strings.TrimSpace(l); l != "" {
					layouts = append(layouts, l)
				}
			}
		}
	}
	return layouts
}

// parseFcitx5Profile reads ~/.config/fcitx5/profile, an INI file whose
// [Groups/N/Items/M] sections name each input method: "keyboard-<layout>"
// for a plain layout, the engine name (pinyin, hangul, mozc, rime) else.
func parseFcitx5Profile(b []byte) inputSources {
	var s inputSources
	inItem := false
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "[") {
			inItem = strings.Contains(line, "/Items/")
			continue
		}
		name, ok := strings.CutPrefix(line, "Name=")
		if !inItem || !ok || name == "" {
			continue
		}
		if layout, ok := strings.CutPrefix(name, "keyboard-"); ok {
			if layout != "" {
				s.Layouts = append(s.Layouts, layout)
			}
		} else {
			s.Methods = append(s.Methods, name)
		}
	}
	return s
}

// unixUser is one /etc/passwd entry: login name, UID and home directory.
type unixUser struct{ name, uid, home string }

// parsePasswd picks the entries of the given UIDs from /etc/passwd.
func parsePasswd(b []byte, uids map[string]bool) []unixUser {
	var out []unixUser
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Split(sc.Text(), ":")
		if len(f) >= 6 && uids[f[2]] && strings.HasPrefix(f[5], "/") {
			out = append(out, unixUser{name: f[0], uid: f[2], home: f[5]})
		}
	}
	return out
}

// hiToolboxSource is one entry of AppleEnabledInputSources in
// ~/Library/Preferences/com.apple.HIToolbox.plist.
type hiToolboxSource struct {
	Kind       string `json:"InputSourceKind"`
	LayoutName string `json:"KeyboardLayout Name"`
	BundleID   string `json:"Bundle ID"`
	InputMode  string `json:"Input Mode"`
}

func (h hiToolboxSource) into(s *inputSources) {
	switch {
	case h.LayoutName != "":
		s.Layouts = append(s.Layouts, h.LayoutName)
	case h.InputMode != "":
		s.Methods = append(s.Methods, h.InputMode)
	case h.BundleID != "" && h.Kind != "Non Keyboard Input Method":
		s.Methods = append(s.Methods, h.BundleID)
	}
}

// parseHIToolboxJSON parses `plutil -extract AppleEnabledInputSources json
// -o - <plist>`.
func parseHIToolboxJSON(b []byte) (inputSources, error) {
	var list []hiToolboxSource
	if err := json.Unmarshal(b, &list); err != nil {
		return inputSources{}, err
	}
	var s inputSources
	for _, h := range list {
		h.into(&s)
	}
	s.dedupeMethods()
	return s, nil
}

var oldStylePair = regexp.MustCompile(`^\s*("?)([^"=]+)("?)\s*=\s*"?([^";]*)"?;`)

// parseHIToolboxDefaults parses the same list as `defaults read <plist>
// AppleEnabledInputSources` prints it: an old-style property list of
// dictionaries, `"KeyboardLayout Name" = "U.S.";` one per line.
func parseHIToolboxDefaults(b []byte) inputSources {
	var s inputSources
	var cur hiToolboxSource
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(line, "{"):
			cur = hiToolboxSource{}
		case strings.HasPrefix(line, "}"):
			cur.into(&s)
		default:
			m := oldStylePair.FindStringSubmatch(line)
			if m == nil {
				continue
			}
			switch k, v := strings.TrimSpace(m[2]), m[4]; k {
			case "InputSourceKind":
				cur.Kind = v
			case "KeyboardLayout Name":
				cur.LayoutName = v
			case "Bundle ID":
				cur.BundleID = v
			case "Input Mode":
				cur.InputMode = v
			}
		}
	}
	s.dedupeMethods()
	return s
}

// dedupeMethods drops an input method's bundle ID when one of its modes
// (com.apple.inputmethod.Korean.2SetKorean under com.apple.inputmethod.Korean)
// is listed too.
func (s *inputSources) dedupeMethods() {
	var out []string
	for _, m := range s.Methods {
		covered := false
		for _, o := range s.Methods {
			if o != m && strings.HasPrefix(o, m+".") {
				covered = true
			}
		}
		if !covered && !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	s.Methods = out
}

// xkbLanguages maps XKB layout names (xkeyboard-config's evdev.xml) to the
// language they type; variants in parentheses ("us(intl)") and after a
// colon are ignored.
var xkbLanguages = map[string]string{
	"us": "en", "gb": "en", "au": "en", "ie": "en", "za": "en", "nz": "en",
	"kr": "ko", "kp": "ko", "cn": "zh", "tw": "zh", "hk": "zh", "jp": "ja",
	"ru": "ru", "ua": "uk", "by": "be", "kz": "kk", "kg": "ky", "tj": "tg", "uz": "uz",
	"mn": "mn", "am": "hy", "ge": "ka", "az": "az", "tm": "tk",
	"de": "de", "at": "de", "ch": "de", "fr": "fr", "ca": "fr", "be": "fr",
	"es": "es", "latam": "es", "it": "it", "pt": "pt", "br": "pt", "nl": "nl",
	"pl": "pl", "cz": "cs", "sk": "sk", "hu": "hu", "ro": "ro", "bg": "bg",
	"rs": "sr", "hr": "hr", "si": "sl", "ba": "bs", "mk": "mk", "al": "sq", "gr": "el",
	"tr": "tr", "il": "he", "ara": "ar", "eg": "ar", "iq": "ar", "sy": "ar", "ir": "fa",
	"af": "ps", "pk": "ur", "in": "hi", "bd": "bn", "lk": "si", "np": "ne",
	"th": "th", "vn": "vi", "la": "lo", "kh": "km", "mm": "my", "id": "id", "my": "ms", "ph": "fil",
	"se": "sv", "no": "nb", "dk": "da", "fi": "fi", "is": "is", "ee": "et", "lv": "lv", "lt": "lt",
}

// engineLanguages maps ibus and fcitx engines to their language.
var engineLanguages = map[string]string{
	"hangul": "ko", "libhangul": "ko",
	"pinyin": "zh", "libpinyin": "zh", "shuangpin": "zh", "rime": "zh", "chewing": "zh",
	"sunpinyin": "zh", "googlepinyin": "zh", "cloudpinyin": "zh", "wubi": "zh", "wbx": "zh",
	"cangjie": "zh", "quick": "zh", "zhuyin": "zh", "table": "zh", "sogoupinyin": "zh", "intelligent-pinyin": "zh",
	"anthy": "ja", "mozc": "ja", "mozc-jp": "ja", "kkc": "ja", "skk": "ja",
	"unikey": "vi", "bamboo": "vi",
	"m17n": "", // m17n:<lang>:<name> carries its language
}

// macLanguages maps a macOS layout's first word or an input method's
// bundle ID part to its language.
var macLanguages = map[string]string{
	"U.S.": "en", "ABC": "en", "British": "en", "Australian": "en", "Irish": "en", "Canadian": "en", "Colemak": "en", "Dvorak": "en",
	"Russian": "ru", "Ukrainian": "uk", "Belarusian": "be", "Kazakh": "kk", "Kyrgyz": "ky", "Mongolian": "mn",
	"German": "de", "Swiss": "de", "Austrian": "de", "French": "fr", "Spanish": "es", "Italian": "it",
	"Portuguese": "pt", "Brazilian": "pt", "Dutch": "nl", "Polish": "pl", "Czech": "cs", "Slovak": "sk",
	"Hungarian": "hu", "Romanian": "ro", "Bulgarian": "bg", "Serbian": "sr", "Croatian": "hr", "Greek": "el",
	"Turkish": "tr", "Hebrew": "he", "Arabic": "ar", "Persian": "fa", "Thai": "th", "Vietnamese": "vi",
	"Swedish": "sv", "Norwegian": "nb", "Danish": "da", "Finnish": "fi", "Estonian": "et", "Latvian": "lv", "Lithuanian": "lt",
	"Hindi": "hi", "Devanagari": "hi", "Georgian": "ka", "Armenian": "hy",
	// Input method bundle IDs (com.apple.inputmethod.<X>...; third-party vendors).
	"Korean": "ko", "SCIM": "zh", "TCIM": "zh", "ChineseHandwriting": "zh", "Kotoeri": "ja", "Japanese": "ja",
	"VietnameseIM": "vi", "sogou": "zh", "baidu": "zh", "tencent": "zh", "iflytek": "zh", "atok": "ja",
}

// windowsLanguages maps a primary language ID (LANGID & 0x3ff, winnt.h) to ISO 639-1.
var windowsLanguages = map[uint16]string{
	0x01: "ar", 0x02: "bg", 0x04: "zh", 0x05: "cs", 0x06: "da", 0x07: "de", 0x08: "el", 0x09: "en",
	0x0a: "es", 0x0b: "fi", 0x0c: "fr", 0x0d: "he", 0x0e: "hu", 0x0f: "is", 0x10: "it", 0x11: "ja",
	0x12: "ko", 0x13: "nl", 0x14: "nb", 0x15: "pl", 0x16: "pt", 0x18: "ro", 0x19: "ru", 0x1a: "hr",
	0x1b: "sk", 0x1c: "sq", 0x1d: "sv", 0x1e: "th", 0x1f: "tr", 0x20: "ur", 0x21: "id", 0x22: "uk",
	0x23: "be", 0x24: "sl", 0x25: "et", 0x26: "lv", 0x27: "lt", 0x28: "tg", 0x29: "fa", 0x2a: "vi",
	0x2b: "hy", 0x2c: "az", 0x2f: "mk", 0x37: "ka", 0x39: "hi", 0x3e: "ms", 0x3f: "kk", 0x40: "ky",
	0x42: "tk", 0x43: "uz", 0x45: "bn", 0x50: "mn", 0x54: "lo", 0x53: "km",
}

// klidLanguage returns the language of a Windows keyboard layout ID
// (KLID, 8 hex digits): its low word is the LANGID, also for IME KLIDs
// such as E0010412.
func klidLanguage(klid string) string {
	v, err := strconv.ParseUint(strings.TrimSpace(klid), 16, 32)
	if err != nil {
		return ""
	}
	return windowsLanguages[uint16(v)&0x3ff]
}

// klidIsIME: legacy IME KLIDs have the high nibble E.
func klidIsIME(klid string) bool {
	v, err := strconv.ParseUint(strings.TrimSpace(klid), 16, 32)
	return err == nil && v>>28 == 0xe
}

// inputLanguages lists the languages of an OS's layouts and input methods,
// in order of first appearance.
func inputLanguages(goos string, s inputSources) []string {
	var out []string
	add := func(l string) {
		if l != "" && !slices.Contains(out, l) {
			out = append(out, l)
		}
	}
	for _, l := range s.Layouts {
		add(layoutLanguage(goos, l))
	}
	for _, m := range s.Methods {
		add(methodLanguage(goos, m))
	}
	return out
}

func layoutLanguage(goos, layout string) string {
	switch goos {
	case "windows":
		return klidLanguage(layout)
	case "darwin":
		return macWordLanguage(strings.FieldsFunc(layout, func(r rune) bool { return r == ' ' || r == '-' }))
	}
	base, _, _ := strings.Cut(layout, "(")
	base, _, _ = strings.Cut(base, "+")
	return xkbLanguages[strings.TrimSpace(base)]
}

func methodLanguage(goos, method string) string {
	switch goos {
	case "windows":
		return klidLanguage(method)
	case "darwin":
		return macWordLanguage(strings.Split(method, "."))
	}
	// ibus "xkb:us::eng" engines are layouts; "m17n:ru:kbd" carries the language.
	if parts := strings.Split(method, ":"); len(parts) > 1 {
		switch parts[0] {
		case "xkb":
			return xkbLanguages[parts[1]]
		case "m17n":
			// m17n-db files language-independent methods under "t"
			// (m17n:t:latn-post, m17n:t:rfc1345): they type no language.
			if isLanguageCode(parts[1]) {
				return parts[1]
			}
			return ""
		case "table":
			return "zh"
		}
	}
	return engineLanguages[method]
}

// macWordLanguage prefers a word naming a language other than English:
// "Canadian French - CSA" types French.
func macWordLanguage(words []string) string {
	found := ""
	for _, w := range words {
		if l, ok := macLanguages[w]; ok {
			if l != "en" {
				return l
			}
			found = l
		}
	}
	return found
}

// windowsPreload turns a user's Keyboard Layout\Preload KLIDs, in order,
// into layouts and input methods, after Keyboard Layout\Substitutes.
func windowsPreload(klids []string, substitutes map[string]string) inputSources {
	var s inputSources
	for _, k := range klids {
		k = strings.ToUpper(strings.TrimSpace(k))
		if sub, ok := substitutes[k]; ok && sub != "" {
			k = strings.ToUpper(sub)
		}
		if klidIsIME(k) {
			s.add(inputSources{Methods: []string{k}})
		} else {
			s.add(inputSources{Layouts: []string{k}})
		}
	}
	return s
}

// isLanguageCode tells whether s has the form of an ISO 639 code (two or
// three lowercase letters), the form the collector's language lists use.
func isLanguageCode(s string) bool {
	if len(s) < 2 || len(s) > 3 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 'a' || s[i] > 'z' {
			return false
		}
	}
	return true
}
