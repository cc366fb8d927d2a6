package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// row is one figure of the table: what was measured, what it is compared
// with in the same run, the goal, and whether the goal is met.
type row struct {
	figure, measured, compared, goal, met string
}

type table struct{ rows []row }

func (t *table) add(figure, measured, compared, goal string, met bool) {
	t.rows = append(t.rows, row{figure, measured, compared, goal, yesNo(met)})
}

// info adds a row without a goal.
func (t *table) info(figure, measured, compared string) {
	t.rows = append(t.rows, row{figure, measured, compared, "-", "-"})
}

func yesNo(ok bool) string {
	if ok {
		return "yes"
	}
	return "NO"
}

func (t *table) print(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "FIGURE\tMEASURED\tCOMPARED WITH\tGOAL\tMET")
	for _, r := range t.rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.figure, r.measured, r.compared, r.goal, r.met)
	}
	tw.Flush()
}

func (t *table) markdown() string {
	var b strings.Builder
	b.WriteString("| figure | measured | compared with | goal | met |\n| --- | --- | --- | --- | --- |\n")
	for _, r := range t.rows {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", r.figure, r.measured, r.compared, r.goal, r.met)
	}
	return b.String()
}

func ms(d time.Duration) string {
	return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
}

// rate formats a per-second figure with thousands separators.
func rate(v float64, unit string) string { return thousands(int64(v+0.5)) + " " + unit }

func thousands(n int64) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return "-" + thousands(-n)
	}
	var out []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return string(out)
}
