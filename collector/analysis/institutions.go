package analysis

import (
	_ "embed"
	"strings"
	"sync"
	"unicode"
)

//go:embed institutions.csv
var institutionsCSV string

// Institution is one listed front company or organisation.
type Institution struct {
	Name, Country, Source string
	keys                  []string
}

var (
	institutionsOnce sync.Once
	institutions     []Institution
)

// Institutions parses the embedded list (semicolon-separated; # comments).
func Institutions() []Institution {
	institutionsOnce.Do(func() {
		for _, line := range strings.Split(institutionsCSV, "\n") {
			line = strings.TrimSpace(line)
			if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "name;") {
				continue
			}
			f := strings.Split(line, ";")
			if len(f) < 4 {
				continue
			}
			in := Institution{Name: f[0], Country: f[2], Source: strings.Join(f[3:], ";")}
			in.keys = append(in.keys, normalizeName(f[0]))
			for _, a := range strings.Split(f[1], "|") {
				if k := normalizeName(a); k != "" {
					in.keys = append(in.keys, k)
				}
			}
			institutions = append(institutions, in)
		}
	})
	return institutions
}

// normalizeName lowercases, drops punctuation and legal suffixes, so "Yanbian
// Silverstar Network Technology Co., Ltd." and "yanbian silverstar network
// technology" compare equal.
func normalizeName(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			return unicode.ToLower(r)
		}
		return ' '
	}, s)
	var words []string
	for _, w := range strings.Fields(s) {
		switch w {
		case "co", "ltd", "llc", "inc", "company", "corp", "corporation", "limited", "the":
			continue
		}
		words = append(words, w)
	}
	return strings.Join(words, " ")
}

// matchInstitution finds a listed institution whose name or alias appears,
// as whole words, in the given name.
func matchInstitution(name string) (Institution, bool) {
	n := " " + normalizeName(name) + " "
	for _, in := range Institutions() {
		for _, k := range in.keys {
			if len(k) >= 6 && strings.Contains(n, " "+k+" ") {
				return in, true
			}
		}
	}
	return Institution{}, false
}
