package main

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/farmwatch/farmwatch/internal/testcollector"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

var update = flag.Bool("update", false, "rewrite testdata/golden from what the commands print")

// TestEmptyListsGolden: every list command's JSON against a collector with
// an empty store names its list, as [], so a script reads
// `.alerts | length` as 0 rather than failing on a missing key.
func TestEmptyListsGolden(t *testing.T) {
	c := testcollector.Start(t, nil)
	commands := map[string][]string{
		"hires-list":      {"hires", "list"},
		"devices-list":    {"devices", "list"},
		"alerts-list":     {"alerts", "list"},
		"clusters-list":   {"clusters", "list"},
		"audit":           {"audit"},
		"applicants-list": {"applicants", "list"},
		"webhooks-list":   {"webhooks", "list"},
	}
	for name, args := range commands {
		t.Run(name, func(t *testing.T) {
			stdout, stderr, err := runCLI(t, c.Data, append(args, "-o", "json")...)
			if err != nil {
				t.Fatalf("%v: %v\n%s", args, err, stderr)
			}
			golden := filepath.Join("testdata", "golden", name+".json")
			if *update {
				if err := os.WriteFile(golden, []byte(stdout), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -run TestEmptyListsGolden -update)", err)
			}
			if stdout != string(want) {
				t.Errorf("%v -o json:\n%s\nwant (%s):\n%s", args, stdout, golden, want)
			}
		})
	}
}

// TestTableWidth: a table with long values fits 120 columns, the long cells
// cut with an ellipsis; -o wide keeps every value whole.
func TestTableWidth(t *testing.T) {
	c := testcollector.Start(t, nil)
	long := "Maximiliana " + strings.Repeat("Wolfeschlegelsteinhausenbergerdorff ", 4) + "Jr."
	if _, _, err := runCLI(t, c.Data, "hires", "add", "--id", "hire-with-a-rather-long-identifier-from-the-hr-system-000042",
		"--name", long, "--claimed-home", "Llanfairpwllgwyngyll, Wales, GB", "--start-date", "2026-12-01"); err != nil {
		t.Fatal(err)
	}
	table, _, err := runCLI(t, c.Data, "hires", "list")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimRight(table, "\n"), "\n") {
		if n := utf8.RuneCountInString(line); n > tableWidth {
			t.Errorf("line of %d columns, want at most %d:\n%s", n, tableWidth, line)
		}
	}
	if strings.Contains(table, long) || !strings.Contains(table, "…") || !strings.Contains(table, "2026-12-01") {
		t.Errorf("default table should cut the long name with an ellipsis and keep the short columns:\n%s", table)
	}
	if lines := strings.Count(table, "\n"); lines != 2 {
		t.Errorf("table of %d lines, want a header and one row (never wrapped):\n%s", lines, table)
	}
	wide, _, err := runCLI(t, c.Data, "hires", "list", "-o", "wide")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(wide, long) || !strings.Contains(wide, "hire-with-a-rather-long-identifier-from-the-hr-system-000042") || strings.Contains(wide, "…") {
		t.Errorf("-o wide should keep every value whole:\n%s", wide)
	}
}

// TestTableFit checks the fitting itself: narrow tables are left alone, the
// widest columns give way first, and cells are cut, never wrapped.
func TestTableFit(t *testing.T) {
	var b strings.Builder
	tw := newTable(&b, "ID", "SUMMARY")
	row(tw, "A-1", "short")
	tw.Flush()
	if want := "ID   SUMMARY\nA-1  short\n"; b.String() != want {
		t.Errorf("narrow table:\n%q\nwant\n%q", b.String(), want)
	}
	b.Reset()
	tw = newTable(&b, "ID", "HOST", "SUMMARY")
	row(tw, "A-1", strings.Repeat("h", 60), strings.Repeat("s", 200))
	tw.Flush()
	lines := strings.Split(strings.TrimRight(b.String(), "\n"), "\n")
	if len(lines) != 2 || utf8.RuneCountInString(lines[1]) != tableWidth {
		t.Fatalf("want 2 lines of %d columns:\n%s", tableWidth, b.String())
	}
	if !strings.Contains(lines[1], strings.Repeat("h", 55)) || !strings.HasSuffix(lines[1], "s…") {
		t.Errorf("the widest column should give way first:\n%s", lines[1])
	}
}

// TestWhenShowsAge: table times carry their age, against an injected clock.
func TestWhenShowsAge(t *testing.T) {
	at := time.Date(2026, 11, 30, 9, 12, 30, 0, time.UTC)
	old := clock
	t.Cleanup(func() { clock = old })
	for _, tt := range []struct {
		now  time.Time
		want string
	}{
		{at.Add(20 * time.Second), "2026-11-30 09:12 (now)"},
		{at.Add(45 * time.Minute), "2026-11-30 09:12 (45m ago)"},
		{at.Add(3*time.Hour + 59*time.Minute), "2026-11-30 09:12 (3h ago)"},
		{at.Add(47 * time.Hour), "2026-11-30 09:12 (47h ago)"},
		{at.Add(72 * time.Hour), "2026-11-30 09:12 (3d ago)"},
		{at.Add(-2 * time.Hour), "2026-11-30 09:12 (2h from now)"},
	} {
		clock = func() time.Time { return tt.now }
		if got := when(timestamppb.New(at)); got != tt.want {
			t.Errorf("at %s: %q, want %q", tt.now, got, tt.want)
		}
	}
	if got := when(nil); got != "-" {
		t.Errorf("no time: %q", got)
	}
}

// FuzzPrintJSON: whatever a response holds, its JSON parses back to the same
// message and names its list, empty or not.
func FuzzPrintJSON(f *testing.F) {
	seed, _ := proto.Marshal(&pb.ListAlertsResponse{Alerts: []*pb.Alert{{Id: "A-000001", Summary: "farm\u202e", Score: 0.5}}})
	f.Add(seed)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		m := &pb.ListAlertsResponse{}
		if (proto.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(b, m) != nil { // JSON has no place for unknown fields
			return
		}
		var out strings.Builder
		if err := printJSON(&out, m); err != nil {
			return // a timestamp protojson cannot print at all; printJSON says so rather than print half
		}
		if !strings.Contains(out.String(), `"alerts": [`) {
			t.Fatalf("no alerts list:\n%s", out.String())
		}
		if bad, _ := timestamps(m.ProtoReflect()); len(bad) > 0 {
			return // invalid times are shown as words, which do not parse back
		}
		back := &pb.ListAlertsResponse{}
		if err := protojson.Unmarshal([]byte(out.String()), back); err != nil {
			t.Fatalf("JSON does not parse back: %v\n%s", err, out.String())
		}
		if !proto.Equal(m, back) {
			t.Fatalf("JSON parses back to another message:\n%s", out.String())
		}
	})
}

// FuzzTableFit: a table of any cells under headers that fit stays within
// 120 columns, one line per row.
func FuzzTableFit(f *testing.F) {
	f.Add("A-000001", "Ana Lee", "Austin, Texas, US", strings.Repeat("long summary ", 20))
	f.Fuzz(func(t *testing.T, a, b, c, d string) {
		var out strings.Builder
		tw := newTable(&out, "ID", "NAME", "PLACE", "SUMMARY").shrink("SUMMARY", "NAME")
		row(tw, a, b, c, d)
		tw.Flush()
		lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
		if len(lines) != 2 {
			t.Fatalf("%d lines:\n%s", len(lines), out.String())
		}
		for _, l := range lines {
			if n := utf8.RuneCountInString(l); n > tableWidth {
				t.Fatalf("line of %d columns:\n%s", n, l)
			}
		}
	})
}
