package applicants

import (
	"errors"
	"fmt"
	"io"
	"runtime"
	"testing"
)

// generated is a file of n rows made on demand: it is never in memory whole.
type generated struct {
	n, i       int
	head, tail string
	row        func(i int) string
	buf        []byte
}

func (g *generated) Read(p []byte) (int, error) {
	for len(g.buf) < len(p) && g.i <= g.n+1 {
		switch {
		case g.i == 0:
			g.buf = append(g.buf, g.head...)
		case g.i <= g.n:
			g.buf = append(g.buf, g.row(g.i)...)
		default:
			g.buf = append(g.buf, g.tail...)
		}
		g.i++
	}
	if len(g.buf) == 0 {
		return 0, io.EOF
	}
	n := copy(p, g.buf)
	g.buf = g.buf[:copy(g.buf, g.buf[n:])]
	return n, nil
}

// streamHeapBound is what reading a file of any length may keep live above
// the data loaded once (gazetteer, phone metadata, disposable domains: about
// 60 MB): a row, a decoder's buffers and the bounded place cache, never the
// file. Live is HeapInuse right after a collection; between collections the
// runtime lets garbage reach the live size again (GOGC=100), so the peak
// without one is logged, not bounded.
const streamHeapBound = 16 << 20

func TestStreamMillionRows(t *testing.T) {
	n := 1_000_000
	if raceEnabled {
		n = 100_000
	}
	files := []struct {
		format Format
		file   *generated
	}{
		{FormatCSV, &generated{n: n, head: "id,name,emails,claimed_address,interview_time_zone,work_history\n",
			row: func(i int) string {
				return fmt.Sprintf("a-%d,Person %d,p%d@example.org,\"%d Main St, Austin, TX 78701\",America/Chicago,Initech|Engineer|2020-01|\n", i, i, i, i%5000)
			}}},
		{FormatJSONL, &generated{n: n, row: func(i int) string {
			return fmt.Sprintf(`{"id":"a-%d","name":"Person %d","emails":["p%d@example.org"],"claimedAddress":"%d Main St, Austin, TX 78701","workHistory":[{"employer":"Initech","start":"2020-01"}]}`+"\n", i, i, i, i%5000)
		}}},
		{FormatGreenhouse, &generated{n: n, head: "[\n", tail: "]\n", row: func(i int) string {
			sep := ",\n"
			if i == n {
				sep = "\n"
			}
			return fmt.Sprintf(`{"id": %d, "first_name": "Person", "last_name": "%d", "email_addresses": [{"value": "p%d@example.org", "type": "personal"}], "addresses": [{"value": "%d Main St, Austin, TX 78701", "type": "home"}], "employments": [{"company_name": "Initech", "title": "Engineer", "start_date": "2020-01-01T00:00:00.000Z", "end_date": null}]}`, i, i, i, i%5000) + sep
		}}},
	}
	for _, f := range files {
		t.Run(string(f.format), func(t *testing.T) {
			Normalize(valid()) // loads the fixed data
			runtime.GC()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			base := ms.HeapInuse
			r, err := NewReader(f.file, f.format)
			if err != nil {
				t.Fatal(err)
			}
			var peak, live uint64
			rows, lastLine := 0, 0
			for {
				a, line, err := r.Next()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatalf("row %d: %v", rows+1, err)
				}
				rows++
				lastLine = line
				if a.GetClaimedPlace().GetPlace() != "Austin, TX, US" {
					t.Fatalf("line %d: claimed_place %v", line, a.GetClaimedPlace())
				}
				if rows%10000 == 0 {
					runtime.ReadMemStats(&ms)
					peak = max(peak, ms.HeapInuse)
				}
				if rows%(n/10) == 0 {
					runtime.GC()
					runtime.ReadMemStats(&ms)
					live = max(live, ms.HeapInuse)
				}
			}
			if rows != n {
				t.Errorf("read %d rows, want %d", rows, n)
			}
			wantLast := n + 1 // CSV's header, Greenhouse's "[" on line 1
			if f.format == FormatJSONL {
				wantLast = n
			}
			if lastLine != wantLast {
				t.Errorf("last row on line %d, want %d", lastLine, wantLast)
			}
			grew := int64(live) - int64(base)
			mb := func(v uint64) float64 { return float64(v) / (1 << 20) }
			t.Logf("%s: %d rows; HeapInuse before %.1f MB, live at most %.1f MB (+%.1f, bound +%d), peak between collections %.1f MB",
				f.format, rows, mb(base), mb(live), float64(grew)/(1<<20), streamHeapBound>>20, mb(peak))
			if grew > streamHeapBound {
				t.Errorf("live heap grew %.1f MB reading %d rows, bound %d MB: the file is being held", float64(grew)/(1<<20), rows, streamHeapBound>>20)
			}
		})
	}
}
