package analysis

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the generated parts of default-config.yaml and docs/ANALYSIS.md")

// replaceBetween returns text with the lines between the begin and end
// marker lines replaced by body.
func replaceBetween(t *testing.T, text, begin, end, body string) string {
	t.Helper()
	a := strings.Index(text, begin)
	b := strings.Index(text, end)
	if a < 0 || b < a {
		t.Fatalf("markers %q and %q not found", begin, end)
	}
	a += len(begin)
	if i := strings.IndexByte(text[a:], '\n'); i >= 0 {
		a += i + 1
	}
	return text[:a] + body + text[b:]
}

// TestGeneratedPartsMatchRegistry fails when the default config's weights or
// docs/ANALYSIS.md's rule table drift from the rules' own files. Run
// `go test ./collector/analysis -run TestGeneratedPartsMatchRegistry -update`
// after changing a rule.
func TestGeneratedPartsMatchRegistry(t *testing.T) {
	for _, f := range []struct{ path, begin, end, body string }{
		{"default-config.yaml", "# BEGIN weights", "# END weights", WeightsYAML()},
		{filepath.Join("..", "..", "docs", "ANALYSIS.md"), "<!-- BEGIN rules", "<!-- END rules", RuleTable()},
	} {
		b, err := os.ReadFile(f.path)
		if err != nil {
			t.Fatal(err)
		}
		want := replaceBetween(t, string(b), f.begin, f.end, f.body)
		if want == string(b) {
			continue
		}
		if *update {
			if err := os.WriteFile(f.path, []byte(want), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		t.Errorf("%s drifted from the rule registry; rerun with -update. Want between %q and %q:\n%s", f.path, f.begin, f.end, f.body)
	}
}

func TestRegistryIsComplete(t *testing.T) {
	cfg := DefaultConfig()
	ids := map[string]bool{}
	for _, r := range Rules() {
		ids[r.ID] = true
		if w, ok := cfg.Weights[r.ID]; !ok || w != r.Weight {
			t.Errorf("%s: default config weight %v, the rule says %v", r.ID, w, r.Weight)
		}
	}
	for k := range cfg.Weights {
		if !ids[k] {
			t.Errorf("default config weighs %s, which no rule registers", k)
		}
	}
	for kind, rule := range ingestRules {
		if !ids[rule] {
			t.Errorf("ingest event %s maps to unregistered %s", kind, rule)
		}
	}
}
