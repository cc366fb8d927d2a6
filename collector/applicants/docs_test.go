package applicants

import (
	"os"
	"strings"
	"testing"
)

// The examples in docs/APPLICANTS.md read without an error, as shown.
func TestDocExamplesRead(t *testing.T) {
	doc, err := os.ReadFile("../../docs/APPLICANTS.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := map[Format]string{FormatCSV: "```csv\n", FormatJSONL: "```json\n"}
	for f, fence := range blocks {
		text := string(doc)
		i := strings.Index(text, fence)
		if i < 0 {
			t.Errorf("docs/APPLICANTS.md has no %s example", f)
			continue
		}
		body := text[i+len(fence):]
		body = body[:strings.Index(body, "```")]
		ids, bad, _ := readAll(t, writeTemp(t, body), f)
		if len(ids) == 0 || len(bad) > 0 {
			t.Errorf("%s example: read %v, errors %v", f, ids, bad)
		}
	}
}

func writeTemp(t *testing.T, body string) string {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "example")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(body); err != nil {
		t.Fatal(err)
	}
	return f.Name()
}
