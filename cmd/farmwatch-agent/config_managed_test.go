package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseManagedPreferences(t *testing.T) {
	tests := []struct {
		name, in, wantErr string
		wantCollector     string
		wantInterval      time.Duration
		wantSpool         int
	}{
		{name: "all keys",
			in: `{"collector":"collector.example.com:7443","enrollment_token":"fwt_x","ca_fingerprint":"ab12",
				"report_interval":"2m","spool_max_reports":500,"PayloadUUID":"8F1C"}`,
			wantCollector: "collector.example.com:7443", wantInterval: 2 * time.Minute, wantSpool: 500},
		{name: "defaults", in: `{"collector":"c:7443"}`, wantCollector: "c:7443", wantInterval: 5 * time.Minute},
		{name: "misspelt key", in: `{"collector":"c:7443","enrolment_token":"x"}`, wantErr: "unknown key(s) enrolment_token"},
		{name: "no collector", in: `{"enrollment_token":"x"}`, wantErr: `"collector" (HOST:PORT) is required`},
		{name: "short interval", in: `{"collector":"c:7443","report_interval":"1s"}`, wantErr: "at least 10s"},
		{name: "spool too large", in: `{"collector":"c:7443","spool_max_reports":20000}`, wantErr: "spool_max_reports 20000: want 1 to 10000"},
		{name: "wrong type", in: `{"collector":"c:7443","spool_max_reports":"many"}`, wantErr: "spool_max_reports"},
		{name: "not json", in: `<plist>`, wantErr: "invalid character"},
		{name: "collector array", in: `{"collector":["a.example.com:7443","b.example.com"],"collector_return_interval":"10m"}`,
			wantCollector: "a.example.com:7443,b.example.com", wantInterval: 5 * time.Minute},
		{name: "collector array with a duplicate", in: `{"collector":["a.example.com","a.example.com:7443"]}`,
			wantErr: "entries 1 and 2 are both a.example.com:7443"},
		{name: "short return interval", in: `{"collector":"c:7443","collector_return_interval":"5s"}`,
			wantErr: "collector_return_interval \"5s\": want a duration of at least 30s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parseManagedPreferences([]byte(tt.in), "prefs.plist")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			d, _ := c.interval()
			if string(c.Collector) != tt.wantCollector || d != tt.wantInterval || c.SpoolMax != tt.wantSpool {
				t.Errorf("got collector %q interval %v spool %d", c.Collector, d, c.SpoolMax)
			}
		})
	}
}

func TestParseManagedPreferencesHashStable(t *testing.T) {
	a, err := parseManagedPreferences([]byte(`{"collector":"c:1","report_interval":"1m","PayloadUUID":"1"}`), "a")
	if err != nil {
		t.Fatal(err)
	}
	b, err := parseManagedPreferences([]byte(`{"report_interval":"1m","PayloadUUID":"2","collector":"c:1"}`), "b")
	if err != nil {
		t.Fatal(err)
	}
	if string(a.raw) != string(b.raw) {
		t.Errorf("same settings, different raw config: %s vs %s", a.raw, b.raw)
	}
}

func TestInstallConfigWithByteOrderMark(t *testing.T) {
	path := filepath.Join(t.TempDir(), "agent.json")
	os.WriteFile(path, append([]byte("\xef\xbb\xbf"), []byte(`{"collector": "collector.example.com:7443", "report_interval": "5m"}`)...), 0o600)
	c, err := loadInstallConfig(path)
	if err != nil || c.Collector != "collector.example.com:7443" {
		t.Fatalf("config with a BOM: %+v %v", c, err)
	}
}
