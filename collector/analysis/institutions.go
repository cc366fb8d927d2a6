package analysis

import (
	_ "embed"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"unicode"
)

//go:embed institutions.csv
var institutionsCSV string

// Institution is one listed front company or organisation.
type Institution struct {
	Name, Country, Source string
	Aliases               []string
	// keys[i] is the romanization-neutral key of the name (i == 0) or of
	// Aliases[i-1]: word keys run together, see nameKey.
	keys []string
}

// minKeyLen keeps short, common words out of the list: an alias whose key is
// shorter ("Kim", "Dept 53") would match honest names.
const minKeyLen = 8

var (
	institutionsOnce sync.Once
	institutions     []Institution
)

// Institutions is the embedded list. A malformed row is a build mistake that
// the tests catch; here it is logged and the well-formed rows are kept.
func Institutions() []Institution {
	institutionsOnce.Do(func() {
		var err error
		institutions, err = parseInstitutions(institutionsCSV)
		if err != nil {
			slog.Error("institutions list", "err", err)
		}
	})
	return institutions
}

// parseInstitutions reads name;aliases separated by |;country;source lines
// (# comments and the header skipped). It returns every well-formed row and
// an error naming each malformed line: too few fields, an empty name,
// country or source, an alias too short to be distinctive, or a key already
// listed under another row.
func parseInstitutions(text string) ([]Institution, error) {
	var out []Institution
	var errs []string
	owner := map[string]string{}
	for n, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "name;") {
			continue
		}
		bad := func(format string, a ...any) {
			errs = append(errs, fmt.Sprintf("line %d: %s", n+1, fmt.Sprintf(format, a...)))
		}
		f := strings.Split(line, ";")
		if len(f) < 4 {
			bad("%d fields, want name;aliases;country;source", len(f))
			continue
		}
		in := Institution{Name: strings.TrimSpace(f[0]), Country: strings.TrimSpace(f[2]),
			Source: strings.TrimSpace(strings.Join(f[3:], ";"))}
		switch {
		case in.Name == "":
			bad("empty name")
			continue
		case len(in.Country) != 2:
			bad("country %q is not a two-letter code", in.Country)
			continue
		case in.Source == "":
			bad("%s has no source", in.Name)
			continue
		}
		for _, a := range strings.Split(f[1], "|") {
			if a = strings.TrimSpace(a); a != "" {
				in.Aliases = append(in.Aliases, a)
			}
		}
		ok := true
		for _, s := range append([]string{in.Name}, in.Aliases...) {
			k := nameKey(s)
			if len(k) < minKeyLen {
				bad("%q is too short to be distinctive (key %q)", s, k)
				ok = false
			} else if o, dup := owner[k]; dup && o != in.Name {
				bad("%q has the key %q of %s", s, k, o)
				ok = false
			}
			owner[k] = in.Name
			in.keys = append(in.keys, k)
		}
		if ok {
			out = append(out, in)
		}
	}
	if len(errs) > 0 {
		return out, fmt.Errorf("institutions: %s", strings.Join(errs, "; "))
	}
	return out, nil
}

// noiseKeys are the keys of words that carry no identity: legal suffixes and
// connectors. They are compared as keys so a name and its key drop the same
// words.
var noiseKeys = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range []string{"co", "ltd", "llc", "inc", "company", "corp", "corporation", "limited", "the", "of", "and", "plc"} {
		m[foldWord(w)] = true
	}
	return m
}()

// foldRunes strips the diacritics that Korean and Chinese romanizations use
// (McCune–Reischauer ŏ ŭ, pinyin tone marks) to their base letter.
var foldRunes = map[rune]rune{
	'ŏ': 'o', 'ŭ': 'u', 'ö': 'o', 'ü': 'u', 'ō': 'o', 'ū': 'u', 'ǒ': 'o', 'ó': 'o', 'ò': 'o',
	'ā': 'a', 'á': 'a', 'ǎ': 'a', 'à': 'a', 'ē': 'e', 'é': 'e', 'ě': 'e', 'è': 'e',
	'ī': 'i', 'í': 'i', 'ǐ': 'i', 'ì': 'i', 'ú': 'u', 'ǔ': 'u', 'ù': 'u', 'ǖ': 'u', 'ǘ': 'u', 'ǚ': 'u', 'ǜ': 'u',
}

// romanization maps the spellings on which McCune–Reischauer and Revised
// Romanization disagree to one letter: ch/j, k/g, p/b, t/d, r/l, sh/s, eo/o,
// eu/u. Honest names fold too, so the key only ever compares two names.
var romanization = strings.NewReplacer("ch", "c", "j", "c", "sh", "s", "eo", "o", "eu", "u",
	"g", "k", "b", "p", "d", "t", "r", "l")

// word is one word of a name: its romanization-neutral key and where it sits
// in the original text.
type word struct {
	key        string
	start, end int
}

// nameWords splits s into words (letters and digits; apostrophes, which
// McCune–Reischauer uses for aspiration, are dropped inside a word), drops
// noise words and folds each to its key.
func nameWords(s string) []word {
	var out []word
	var b strings.Builder
	start := -1
	flush := func(end int) {
		if start >= 0 {
			if k := foldWord(b.String()); k != "" && !noiseKeys[k] {
				out = append(out, word{key: k, start: start, end: end})
			}
		}
		b.Reset()
		start = -1
	}
	for i, r := range s {
		r = unicode.ToLower(r)
		if f, ok := foldRunes[r]; ok {
			r = f
		}
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			if start < 0 {
				start = i
			}
			b.WriteRune(r)
		case (r == '\'' || r == '’' || r == 'ʼ' || r == '‘') && start >= 0:
		default:
			flush(i)
		}
	}
	flush(len(s))
	return out
}

// foldWord applies the romanization map until nothing changes (one pass can
// expose a new pair, as "eeo" does) and collapses doubled letters
// ("Kumpp'ung", "Silverstarr").
func foldWord(w string) string {
	for range len(w) + 1 {
		next := collapse(romanization.Replace(w))
		if next == w {
			break
		}
		w = next
	}
	return w
}

func collapse(w string) string {
	var b strings.Builder
	var last rune = -1
	for _, r := range w {
		if r != last {
			b.WriteRune(r)
		}
		last = r
	}
	return b.String()
}

// nameKey is the romanization-neutral key of a whole name: its word keys run
// together, so "So Baek Su", "Sobaeksu" and "So-baek-su" share one key.
func nameKey(s string) string {
	var b strings.Builder
	for _, w := range nameWords(s) {
		b.WriteString(w.key)
	}
	return b.String()
}

// institutionMatch says which row matched, by which of its spellings, and
// the words of the hire record that matched it.
type institutionMatch struct {
	Institution
	Listed  string // the name or alias whose key matched
	Matched string // the words of the hire record, as written there
}

// matchInstitution finds a listed institution whose name or an alias, under
// nameKey, equals a run of whole words of the given name. Words may be split
// or joined differently ("Silver Star" for "Silverstar") but never cut:
// "Silverstar Dental" does not contain "Yanbian Silverstar", and "Kim Il Sung
// Square" does not contain "Kim Il Sung University".
func matchInstitution(name string) (institutionMatch, bool) {
	ws := nameWords(name)
	for _, in := range Institutions() {
		for i, k := range in.keys {
			if a, b, ok := wordRun(ws, k); ok {
				listed := in.Name
				if i > 0 {
					listed = in.Aliases[i-1]
				}
				return institutionMatch{Institution: in, Listed: listed, Matched: name[ws[a].start:ws[b].end]}, true
			}
		}
	}
	return institutionMatch{}, false
}

// wordRun finds words ws[a..b] whose keys, run together, equal key.
func wordRun(ws []word, key string) (a, b int, ok bool) {
	for a = range ws {
		rest := key
		for b = a; b < len(ws) && strings.HasPrefix(rest, ws[b].key); b++ {
			rest = rest[len(ws[b].key):]
			if rest == "" {
				return a, b, true
			}
		}
	}
	return 0, 0, false
}
