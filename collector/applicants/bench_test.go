package applicants

import (
	"errors"
	"fmt"
	"io"
	"testing"
)

var benchCities = []string{"Austin, TX 78704", "Seattle, WA 98101", "Toronto, ON, Canada", "Chicago, IL 60601",
	"Denver, CO 80202", "Miami, FL 33101", "Boston, MA 02108", "London, GB"}

// benchRow is an applicant as an export writes one: two phones (each a
// different number), two emails, an address in one of a few cities, two
// jobs, a degree, a profile, a zone and an IP.
func benchRow(i int) string {
	return fmt.Sprintf("a-%d,Person %d,p%d@gmail.com;person.%d@example.org,+1 (512) %03d-%04d;206-%03d-%04d,"+
		"\"%d Main St, Apt %d, %s\",Initech|ML engineer|2021-03|2024-06;Globex|Analyst|2018-01|2021-02,"+
		"University of Texas|BSc|2014-09|2018-05,github.com/p%d,America/Chicago,203.0.%d.%d\n",
		i, i, i, i, 200+i%700, i%10000, 200+(i/7)%700, (i*7)%10000, i%9000, i%40, benchCities[i%len(benchCities)], i, (i/256)%256, i%256)
}

// BenchmarkReadNormalize reads and normalises one CSV row per op:
//
//	go test -run '^$' -bench BenchmarkReadNormalize -benchmem ./collector/applicants
func BenchmarkReadNormalize(b *testing.B) {
	Normalize(valid()) // loads the fixed data outside the timing
	g := &generated{n: b.N, row: benchRow,
		head: "id,name,emails,phones,claimed_address,work_history,education,profile_urls,interview_time_zone,submission_ip\n"}
	b.ReportAllocs()
	b.ResetTimer()
	r, err := NewReader(g, FormatCSV)
	if err != nil {
		b.Fatal(err)
	}
	rows := 0
	for {
		_, line, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			b.Fatalf("line %d: %v", line, err)
		}
		rows++
	}
	if rows != b.N {
		b.Fatalf("read %d rows, want %d", rows, b.N)
	}
}
