package packaging

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestDefaultFileReadsAlikeInShAndSystemd checks /etc/default/farmwatch as shipped, and with the
// example its comment gives filled in as the comment shows it: systemd's EnvironmentFile= rules and sh
// (`. /etc/default/farmwatch`) must read the same variables with the same values, and every value is
// double-quoted, so an operator who adds a second flag keeps the two in agreement.
func TestDefaultFileReadsAlikeInShAndSystemd(t *testing.T) {
	shipped, err := os.ReadFile("linux/farmwatch.default")
	if err != nil {
		t.Fatal(err)
	}
	assignment := regexp.MustCompile(`^([A-Z_]+)=(.*)$`)
	example := regexp.MustCompile(`(?m)^#\s+(FARMWATCH_SERVE_ARGS=.*)$`)
	m := example.FindSubmatch(shipped)
	if m == nil {
		t.Fatal("the file's comment shows no FARMWATCH_SERVE_ARGS=... example")
	}
	edited := regexp.MustCompile(`(?m)^FARMWATCH_SERVE_ARGS=.*$`).ReplaceAll(shipped, m[1])
	for name, content := range map[string]string{"as shipped": string(shipped), "with the example": string(edited)} {
		for i, line := range strings.Split(content, "\n") {
			if a := assignment.FindStringSubmatch(line); a != nil && !regexp.MustCompile(`^"[^"\\$`+"`"+`]*"$`).MatchString(a[2]) {
				t.Errorf("%s, line %d: %s is not a plain double-quoted value", name, i+1, line)
			}
		}
		sd, err := systemdEnvironmentFile(content)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		sh := shEnvironment(t, content)
		if !mapsEqual(sd, sh) {
			t.Errorf("%s: systemd reads %q, sh reads %q", name, sd, sh)
		}
		if len(sd) != 2 || sd["FARMWATCH_LISTEN"] == "" {
			t.Errorf("%s: variables %q", name, sd)
		}
	}
	if got, _ := systemdEnvironmentFile(string(edited)); !strings.Contains(got["FARMWATCH_SERVE_ARGS"], "--trusted-proxy") {
		t.Errorf("example not applied: %q", got)
	}
}

// TestSystemdEnvironmentFileRules pins the parser below to systemd.exec(5)'s rules on the cases where
// sh and systemd part ways, so the comparison above compares against systemd and not against itself.
func TestSystemdEnvironmentFileRules(t *testing.T) {
	tests := []struct{ in, key, want string }{
		{"A=--tls-san x --trusted-proxy y", "A", "--tls-san x --trusted-proxy y"}, // sh runs "x" as a command
		{`A="a b"`, "A", "a b"},
		{`A='a "b"'`, "A", `a "b"`},
		{`A="a \"b\" \n"`, "A", `a "b" \n`},
		{"A=x   ", "A", "x"},
		{"  A = x", "A", "x"},
		{"# A=x\n; B=y\nC=z", "C", "z"},
		{"A=a\\\nb", "A", "ab"},
		{`A=a\ b`, "A", "a b"},
		{`A=`, "A", ""},
	}
	for _, tt := range tests {
		got, err := systemdEnvironmentFile(tt.in)
		if err != nil {
			t.Errorf("%q: %v", tt.in, err)
			continue
		}
		if v, ok := got[tt.key]; !ok || v != tt.want {
			t.Errorf("%q: %s = %q (set %v), want %q", tt.in, tt.key, v, ok, tt.want)
		}
	}
	sh := shEnvironment(t, "A=x   \nB='a \"b\"'\n")
	if sh["A"] != "x" || sh["B"] != `a "b"` {
		t.Errorf("sh reads %q", sh)
	}
}

// systemdEnvironmentFile reads an EnvironmentFile= as systemd does (parse_env_file_internal in
// systemd's env-file.c): comments start with # or ;, whitespace around the key and before the value is
// dropped, an unquoted value loses trailing whitespace and takes backslash escapes, single quotes are
// literal, double quotes take \" \\ \` \$ and a backslash-newline.
func systemdEnvironmentFile(content string) (map[string]string, error) {
	env := map[string]string{}
	const (
		preKey = iota
		key
		preValue
		value
		valueEscape
		singleQuote
		doubleQuote
		doubleQuoteEscape
		comment
		commentEscape
	)
	state := preKey
	var k, v strings.Builder
	lastValueWS := 0 // trailing whitespace of an unquoted value, dropped at its end
	emit := func() {
		if k.Len() > 0 {
			s := v.String()
			env[strings.TrimRight(k.String(), " \t")] = s[:len(s)-lastValueWS]
		}
		k.Reset()
		v.Reset()
		lastValueWS = 0
	}
	for _, c := range content + "\n" {
		switch state {
		case preKey:
			switch {
			case c == '#' || c == ';':
				state = comment
			case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			default:
				state = key
				k.WriteRune(c)
			}
		case key:
			switch c {
			case '\n', '\r':
				state = preKey
				k.Reset()
			case '=':
				state = preValue
			default:
				k.WriteRune(c)
			}
		case preValue:
			switch c {
			case '\n', '\r':
				state = preKey
				emit()
			case '\'':
				state = singleQuote
			case '"':
				state = doubleQuote
			case '\\':
				state = valueEscape
			case ' ', '\t':
			default:
				state = value
				v.WriteRune(c)
			}
		case value:
			switch c {
			case '\n', '\r':
				state = preKey
				emit()
			case '\\':
				state = valueEscape
				lastValueWS = 0
			default:
				v.WriteRune(c)
				if c == ' ' || c == '\t' {
					lastValueWS++
				} else {
					lastValueWS = 0
				}
			}
		case valueEscape:
			state = value
			if c != '\n' {
				v.WriteRune(c)
			}
		case singleQuote:
			if c == '\'' {
				state = preValue
			} else {
				v.WriteRune(c)
			}
		case doubleQuote:
			switch c {
			case '"':
				state = preValue
			case '\\':
				state = doubleQuoteEscape
			default:
				v.WriteRune(c)
			}
		case doubleQuoteEscape:
			state = doubleQuote
			switch c {
			case '"', '\\', '`', '$':
				v.WriteRune(c)
			case '\n':
			default:
				v.WriteRune('\\')
				v.WriteRune(c)
			}
		case comment:
			if c == '\\' {
				state = commentEscape
			} else if c == '\n' || c == '\r' {
				state = preKey
			}
		case commentEscape:
			state = comment
		}
	}
	switch state {
	case singleQuote, doubleQuote, doubleQuoteEscape:
		return nil, fmt.Errorf("unterminated quote")
	}
	return env, nil
}

// shEnvironment sources content with sh -a and lists the variables it set.
func shEnvironment(t *testing.T, content string) map[string]string {
	t.Helper()
	f := t.TempDir() + "/default"
	if err := os.WriteFile(f, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	before := shVars(t, "true")
	after := shVars(t, ". "+f)
	env := map[string]string{}
	for k, v := range after {
		if old, ok := before[k]; !ok || old != v {
			env[k] = v
		}
	}
	return env
}

func shVars(t *testing.T, script string) map[string]string {
	t.Helper()
	cmd := exec.Command("sh", "-c", "set -a; "+script+"; env -0")
	cmd.Env = []string{"PATH=/usr/bin:/bin"}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("sh -c %q: %v", script, err)
	}
	vars := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	sc.Split(func(data []byte, atEOF bool) (int, []byte, error) {
		if i := slices.Index(data, 0); i >= 0 {
			return i + 1, data[:i], nil
		}
		if atEOF && len(data) > 0 {
			return len(data), data, nil
		}
		return 0, nil, nil
	})
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok && k != "_" && k != "PWD" && k != "SHLVL" {
			vars[k] = v
		}
	}
	return vars
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
