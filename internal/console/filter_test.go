package console

import (
	"net/url"
	"testing"
)

func TestParseQueueFilter(t *testing.T) {
	tests := []struct {
		query string
		want  queueFilter
		bad   bool
	}{
		{"", queueFilter{Sort: "peak"}, false},
		{"sort=newest&kind=farm&status=open&min_peak=0.5&min_score=0.25", queueFilter{Sort: "newest", Kind: "farm", Status: "open", MinPeak: 0.5, MinScore: 0.25}, false},
		{"sort=current&kind=applicant&status=resolved", queueFilter{Sort: "current", Kind: "applicant", Status: "resolved"}, false},
		{"sort=loudest", queueFilter{}, true},
		{"kind=laptop", queueFilter{}, true},
		{"status=closed", queueFilter{}, true},
		{"min_peak=1.5", queueFilter{}, true},
		{"min_score=-0.1", queueFilter{}, true},
		{"min_score=NaN", queueFilter{}, true},
		{"min_score=abc", queueFilter{}, true},
	}
	for _, tt := range tests {
		q, _ := url.ParseQuery(tt.query)
		got, err := parseQueueFilter(q)
		if (err != nil) != tt.bad {
			t.Errorf("%q: error %v, want bad=%v", tt.query, err, tt.bad)
			continue
		}
		if !tt.bad && got != tt.want {
			t.Errorf("%q: %+v, want %+v", tt.query, got, tt.want)
		}
	}
}

// The column links keep the filters and change only the sort.
func TestQueueFilterURL(t *testing.T) {
	f := queueFilter{Sort: "peak", Kind: "farm", Status: "open", MinPeak: 0.5}
	if got, want := f.URL("newest"), "/?kind=farm&min_peak=0.5&sort=newest&status=open"; got != want {
		t.Errorf("URL: %s, want %s", got, want)
	}
	if got, want := (queueFilter{}).URL("current"), "/?sort=current"; got != want {
		t.Errorf("URL: %s, want %s", got, want)
	}
}
