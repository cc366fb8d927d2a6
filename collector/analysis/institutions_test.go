package analysis

import (
	"regexp"
	"strings"
	"testing"
)

// TestInstitutionsListParses: the embedded list parses with no row dropped,
// and every row names its source with a date.
func TestInstitutionsListParses(t *testing.T) {
	rows, err := parseInstitutions(institutionsCSV)
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	for _, line := range strings.Split(institutionsCSV, "\n") {
		line = strings.TrimSpace(line)
		if line != "" && !strings.HasPrefix(line, "#") && !strings.HasPrefix(line, "name;") {
			want++
		}
	}
	if len(rows) != want || len(Institutions()) != want {
		t.Fatalf("parsed %d rows (Institutions %d), file has %d", len(rows), len(Institutions()), want)
	}
	year := regexp.MustCompile(`\b(19|20)\d\d\b`)
	for _, r := range rows {
		if !year.MatchString(r.Source) || !strings.Contains(r.Source, "U.S.") {
			t.Errorf("%s: source %q names no agency and date", r.Name, r.Source)
		}
	}
}

// TestParseInstitutionsRejects: a malformed row is an error naming its line,
// never a silently skipped row.
func TestParseInstitutionsRejects(t *testing.T) {
	for _, tc := range []struct{ name, text, want string }{
		{"too few fields", "# c\nname;aliases;country;source\nAcme Front;;KP\n", "line 3: 3 fields"},
		{"no source", "Acme Front Trading;;KP;\n", "line 1: Acme Front Trading has no source"},
		{"bad country", "Acme Front Trading;;Korea;OFAC 2024\n", "line 1: country \"Korea\""},
		{"empty name", ";Acme;KP;OFAC 2024\n", "line 1: empty name"},
		{"alias too short", "Acme Front Trading;Kim;KP;OFAC 2024\n", "line 1: \"Kim\" is too short"},
		{"same key twice", "Chinyong Trading;;KP;OFAC 2023\nJinyong Trading;;KP;OFAC 2024\n", "line 2: \"Jinyong Trading\" has the key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseInstitutions(tc.text)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

// TestInstitutionMatch: romanization, spacing, punctuation and diacritic
// variants of a listed name match; honest near-misses do not. Kim Il Sung
// and Kim Chaek universities are not listed (no designation names them), so
// a degree from either never fires this rule.
func TestInstitutionMatch(t *testing.T) {
	for _, tc := range []struct{ name, want string }{
		// Transliteration and spacing variants.
		{"Jinyong IT Cooperation Company", "Chinyong Information Technology Cooperation Company"},
		{"Jin-yong I.T. Cooperation Co.", "Chinyong Information Technology Cooperation Company"},
		{"CHINYONG INFORMATION TECHNOLOGY COOPERATION", "Chinyong Information Technology Cooperation Company"},
		{"So Baek Su Trading", "Korea Sobaeksu Trading Company"},
		{"Sobaek-su Trading Corp", "Korea Sobaeksu Trading Company"},
		{"Shen Yang Geum Pung Ri Network Technology", "Shenyang Geumpungri Network Technology Co., Ltd."},
		{"Shenyang Kumpungri", "Shenyang Geumpungri Network Technology Co., Ltd."},
		{"Shenyang Kŭmp'ungri", "Shenyang Geumpungri Network Technology Co., Ltd."},
		{"Yanbian Silver Star Network Technology", "Yanbian Silverstar Network Technology Co., Ltd."},
		{"Yan Bian Silverstar", "Yanbian Silverstar Network Technology Co., Ltd."},
		{"Cheonsurim Trading Corp.", "Chonsurim Trading Corporation"},
		{"P'yŏngyang Automation University", "Pyongyang University of Automation"},
		{"Department 53, Ministry of Peoples Armed Forces", "Department 53 of the Ministry of the People's Armed Forces"},
		{"Backend developer, Jin-yong IT Cooperation (Vladivostok)", "Chinyong Information Technology Cooperation Company"},
		// Honest near-misses.
		{"Kim", ""},
		{"Kim Chaek University of Technology", ""},
		{"Kim Il Sung University", ""},
		{"Silverstar Dental", ""},
		{"Silver Star Dental", ""},
		{"Silverstar Network Solutions", ""},
		{"Jin Yong IT Services", ""},
		{"Jinyong Information Technology", ""},
		{"Department 53", ""},
		{"Sobaeksan National Park Service", ""},
		{"Osong Medical Innovation Foundation", ""},
		{"Liaoning China Trade", ""},
		{"Yanbian University", ""},
		{"Korea Trading Company", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, ok := matchInstitution(tc.name)
			if got := map[bool]string{true: m.Name}[ok]; got != tc.want {
				t.Errorf("matched %q (by %q on %q), want %q", got, m.Listed, m.Matched, tc.want)
			}
		})
	}
}

// TestInstitutionEvidenceCitesRow: the explanation names the listed row,
// the spelling that matched, the words of the record and the source.
func TestInstitutionEvidenceCitesRow(t *testing.T) {
	ev := fires(t, "variant", highRiskInstitution, in(func(i *Input) {
		i.Hire.Institutions = []string{"University of Texas", "Senior engineer, So-baek-su Trading (Pyongyang)"}
	}), true)
	if ev == nil {
		return
	}
	for _, want := range []string{"Korea Sobaeksu Trading Company", `alias "Sobaeksu Trading"`,
		`words "So-baek-su Trading"`, "OFAC designation of 24 July 2025"} {
		if !strings.Contains(ev.GetExplanation(), want) {
			t.Errorf("explanation %q lacks %q", ev.GetExplanation(), want)
		}
	}
	if strings.Contains(ev.GetExplanation(), "Texas") {
		t.Errorf("explanation cites an unlisted school: %q", ev.GetExplanation())
	}
}

// FuzzInstitutionMatch: the matcher never panics, cites words that are in
// the input, decides the same on a name and on its own key, and always finds
// a listed alias set between any other words.
func FuzzInstitutionMatch(f *testing.F) {
	for _, s := range []string{"Jin-yong IT Cooperation", "Shenyang Kŭmp'ungri", "Silverstar Dental", "Kim", "eeo", "", "’'-"} {
		f.Add(s, uint8(0))
	}
	rows := Institutions()
	f.Fuzz(func(t *testing.T, s string, pick uint8) {
		m, ok := matchInstitution(s)
		if ok && !strings.Contains(s, m.Matched) {
			t.Fatalf("cited %q, not in %q", m.Matched, s)
		}
		var keys []string
		for _, w := range nameWords(s) {
			keys = append(keys, w.key)
		}
		m2, ok2 := matchInstitution(strings.Join(keys, " "))
		if ok != ok2 || m.Name != m2.Name {
			t.Fatalf("%q matched %v (%s), its key %q matched %v (%s)", s, ok, m.Name, keys, ok2, m2.Name)
		}
		in := rows[int(pick)%len(rows)]
		alias := append([]string{in.Name}, in.Aliases...)[int(pick)/len(rows)%(len(in.Aliases)+1)]
		if _, ok := matchInstitution(s + " " + alias + " " + s); !ok {
			t.Fatalf("%q between %q not matched", alias, s)
		}
	})
}

// FuzzParseInstitutions: any text parses without panic, and every row it
// keeps has a source and distinctive keys.
func FuzzParseInstitutions(f *testing.F) {
	f.Add(institutionsCSV)
	f.Add("a;b;c\n;;;\nAcme Front Trading;Kim;KP;OFAC 2024\n")
	f.Fuzz(func(t *testing.T, text string) {
		rows, _ := parseInstitutions(text)
		for _, r := range rows {
			if r.Source == "" || r.Name == "" {
				t.Fatalf("row kept without name or source: %+v", r)
			}
			for _, k := range r.keys {
				if len(k) < minKeyLen {
					t.Fatalf("row kept with short key %q: %+v", k, r)
				}
			}
		}
	})
}
