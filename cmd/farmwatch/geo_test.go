package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/farmwatch/farmwatch/collector/analysis"
	"github.com/farmwatch/farmwatch/geo"
	"github.com/farmwatch/farmwatch/geo/geotest"
	"github.com/farmwatch/farmwatch/internal/testcollector"
	"github.com/farmwatch/farmwatch/sim"
)

var geoTestNets = []geotest.Network{{Prefix: "67.198.0.0/16", Country: "US", CountryName: "United States", Region: "Texas",
	City: "Austin", Lat: 30.2672, Lon: -97.7431, TimeZone: "America/Chicago", ASN: 11427, Org: "Charter"}}

// Places shown by the CLI carry the credit line of the database they came from: DB-IP's for the files
// make geodata writes, MaxMind's for GeoLite2, in the table footer and the JSON attribution field.
func TestGeoLookupAttribution(t *testing.T) {
	for _, tt := range []struct {
		flavor geotest.Flavor
		want   string
	}{
		{geotest.DBIP, "IP Geolocation by DB-IP"},
		{geotest.MaxMind, "This product includes GeoLite2 data created by MaxMind"},
	} {
		city, asn, err := geotest.Write(t.TempDir(), geotest.Options{Flavor: tt.flavor}, geoTestNets)
		if err != nil {
			t.Fatal(err)
		}
		stdout, _, err := runCLI(t, t.TempDir(), "geo", "lookup", "--geoip-city", city, "--geoip-asn", asn, "67.198.1.2")
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(stdout), "\n")
		if !strings.HasPrefix(lines[len(lines)-1], tt.want) || !strings.Contains(stdout, "~100 km") {
			t.Errorf("flavor %d: table without the credit line %q or the assumed radius:\n%s", tt.flavor, tt.want, stdout)
		}
		stdout, _, err = runCLI(t, t.TempDir(), "geo", "lookup", "-o", "json", "--geoip-city", city, "--geoip-asn", asn, "67.198.1.2")
		if err != nil {
			t.Fatal(err)
		}
		var doc geoLookupResult
		if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
			t.Fatalf("not JSON: %v\n%s", err, stdout)
		}
		if !strings.HasPrefix(doc.Attribution, tt.want) || len(doc.Locations) != 1 || doc.Locations[0].City != "Austin" ||
			!doc.Locations[0].AccuracyAssumed {
			t.Errorf("flavor %d: JSON %+v", tt.flavor, doc)
		}
	}
}

// geo status gives each database's build date and age, and warns past 45 days.
func TestGeoStatus(t *testing.T) {
	built := time.Now().Add(-60 * 24 * time.Hour)
	city, asn, err := geotest.Write(t.TempDir(), geotest.Options{Built: built}, geoTestNets)
	if err != nil {
		t.Fatal(err)
	}
	stdout, _, err := runCLI(t, t.TempDir(), "geo", "status", "--geoip-city", city, "--geoip-asn", asn)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"DBIP-City-Lite", built.UTC().Format("2006-01-02"), "60 days",
		"WARNING: the city database " + city + " is 60 days old", "IP Geolocation by DB-IP"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("geo status lacks %q:\n%s", want, stdout)
		}
	}
	stdout, _, err = runCLI(t, t.TempDir(), "geo", "status", "-o", "json", "--geoip-city", city, "--geoip-asn", "")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Databases []struct {
			Type    string `json:"database_type"`
			AgeDays int    `json:"age_days"`
			Stale   bool   `json:"stale"`
		} `json:"databases"`
		Attribution string `json:"attribution"`
	}
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Databases) != 1 || doc.Databases[0].AgeDays != 60 || !doc.Databases[0].Stale || doc.Attribution != geo.AttributionDBIP {
		t.Errorf("geo status JSON: %s", stdout)
	}
}

// `farmwatch serve` as a process: loud without geo; with geo, SIGHUP reloads a replaced database.
func TestServeGeoLogAndSIGHUP(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "farmwatch")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	serve := func(args ...string) (*exec.Cmd, *lockedLog, string) {
		data := t.TempDir()
		cmd := exec.Command(bin, append([]string{"serve", "--data", data, "--listen", "127.0.0.1:0"}, args...)...)
		log := &lockedLog{}
		cmd.Stdout, cmd.Stderr = log, log
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() })
		waitLog(t, log, "collector listening")
		return cmd, log, data
	}

	_, log, _ := serve()
	for _, want := range []string{`level=WARN msg="NO GEO DATABASES`, analysis.RuleCountryMismatch, analysis.RuleFarFromClaimed, analysis.RuleHighRiskPeer} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("serve without geo: log lacks %q:\n%s", want, log.String())
		}
	}

	dir := t.TempDir()
	old := time.Date(2026, 6, 5, 13, 0, 0, 0, time.UTC)
	city, asn, err := geotest.Write(dir, geotest.Options{Built: old}, geoTestNets)
	if err != nil {
		t.Fatal(err)
	}
	cmd, log, _ := serve("--geoip-city", city, "--geoip-asn", asn)
	if strings.Contains(log.String(), "NO GEO DATABASES") || !strings.Contains(log.String(), "built=2026-06-05") {
		t.Errorf("serve with geo:\n%s", log.String())
	}
	if _, _, err := geotest.Write(dir, geotest.Options{Built: time.Now()}, geoTestNets); err != nil {
		t.Fatal(err)
	}
	cmd.Process.Signal(syscall.SIGHUP)
	waitLog(t, log, "geo database reloaded")
	if !strings.Contains(log.String(), "SIGHUP: reloading geo databases") {
		t.Errorf("the reload was not SIGHUP's:\n%s", log.String())
	}
	if !strings.Contains(log.String(), "built="+time.Now().UTC().Format("2006-01-02")) {
		t.Errorf("the reload did not open the new file:\n%s", log.String())
	}
	if cmd.ProcessState != nil {
		t.Fatal("serve exited on SIGHUP")
	}
}

// lockedLog is a process's output, written by exec's copying goroutine while the test reads it.
type lockedLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *lockedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *lockedLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func waitLog(t *testing.T, log *lockedLog, want string) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if strings.Contains(log.String(), want) {
			return
		}
	}
	t.Fatalf("log never said %q:\n%s", want, log.String())
}

// Places the collector shows (devices list and show) carry the credit line of its databases, sent as a
// response header: DB-IP's for the test collector's DB-IP-named files.
func TestDevicesAttribution(t *testing.T) {
	c := testcollector.Start(t, nil)
	ctx := context.Background()
	fp, _ := c.Options().CAFingerprint()
	fleet := sim.Plan(2, 1)
	defer fleet.Close()
	if err := fleet.Register(ctx, c.Admin); err != nil {
		t.Fatal(err)
	}
	if err := fleet.Enroll(ctx, c.Addr(), fp, 2); err != nil {
		t.Fatal(err)
	}
	if _, err := fleet.Send(ctx, time.Now(), 1, 2); err != nil {
		t.Fatal(err)
	}
	out, _, err := runCLI(t, c.Data, "devices", "list")
	if err != nil || !strings.HasSuffix(out, "\n"+geo.AttributionDBIP+"\n") {
		t.Fatalf("devices list: %v\n%s", err, out)
	}
	out, _, err = runCLI(t, c.Data, "devices", "list", "-o", "json")
	var doc struct {
		Devices     []json.RawMessage `json:"devices"`
		Attribution string            `json:"attribution"`
	}
	if err != nil || json.Unmarshal([]byte(out), &doc) != nil || len(doc.Devices) == 0 || doc.Attribution != geo.AttributionDBIP {
		t.Fatalf("devices list -o json: %v\n%s", err, out)
	}
	out, _, err = runCLI(t, c.Data, "devices", "show", fleet.Devices[0].ID())
	if err != nil || !strings.Contains(out, "Timeline of recent reports") || !strings.HasSuffix(out, "\n"+geo.AttributionDBIP+"\n") {
		t.Fatalf("devices show: %v\n%s", err, out)
	}
}

// geo lookup's table fits 120 columns like every other table: a long
// organisation and region give way with an ellipsis; -o wide keeps them.
func TestGeoLookupTableWidth(t *testing.T) {
	org := "Comcast Cable Communications, LLC (Residential Broadband, Southwest Division, Rural Fibre Extension)"
	nets := []geotest.Network{{Prefix: "67.198.0.0/16", Country: "US", CountryName: "United States",
		Region: "Commonwealth of Pennsylvania", City: "Llanfairpwllgwyngyll-on-Susquehanna", Lat: 40.2, Lon: -76.9,
		TimeZone: "America/New_York", ASN: 7922, Org: org}}
	city, asn, err := geotest.Write(t.TempDir(), geotest.Options{}, nets)
	if err != nil {
		t.Fatal(err)
	}
	table, _, err := runCLI(t, t.TempDir(), "geo", "lookup", "--geoip-city", city, "--geoip-asn", asn, "67.198.1.2")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimRight(table, "\n"), "\n") {
		if n := utf8.RuneCountInString(line); n > tableWidth {
			t.Errorf("line of %d columns, want at most %d:\n%s", n, tableWidth, line)
		}
	}
	if strings.Contains(table, org) || !strings.Contains(table, "67.198.1.2") || !strings.Contains(table, "AS7922") {
		t.Errorf("the table should cut the organisation and keep the IP and ASN whole:\n%s", table)
	}
	wide, _, err := runCLI(t, t.TempDir(), "geo", "lookup", "-o", "wide", "--geoip-city", city, "--geoip-asn", asn, "67.198.1.2")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(wide, org) {
		t.Errorf("-o wide should keep the organisation whole:\n%s", wide)
	}
}
