package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/farmwatch/farmwatch/collector/server"
	"github.com/farmwatch/farmwatch/collector/store"
	"github.com/farmwatch/farmwatch/internal/testcollector"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// seedVerdicts stores resolved alerts in the running collector's store:
// confirmed ones on which net.colocated and rat.remote_session fired, and
// false positives on which geo.high_risk_peer and rat.remote_session fired
// (an IT support session to a vendor abroad).
func seedVerdicts(t *testing.T, c *testcollector.Collector, confirmed, falsePositives int) {
	t.Helper()
	err := c.Server.Store().Update(func(tx *store.Tx) error {
		for i := 0; i < confirmed+falsePositives; i++ {
			id, err := tx.NextAlertID()
			if err != nil {
				return err
			}
			a := &pb.Alert{Id: id, Kind: "device", Status: "resolved", DeviceId: fmt.Sprintf("d-%d", i),
				Verdict: "confirmed", Note: "seen on site", Score: 0.9, PeakScore: 0.9,
				Evidence: []*pb.Evidence{{Rule: "net.colocated", Weight: 3.6}, {Rule: "rat.remote_session", Weight: 1}}}
			if i >= confirmed {
				a.Verdict, a.Note = "false-positive", "vendor support session"
				a.Evidence = []*pb.Evidence{{Rule: "geo.high_risk_peer", Weight: 3.6}, {Rule: "rat.remote_session", Weight: 1}}
			}
			if err := tx.PutAlert(a.GetDeviceId(), a); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestModelFitSaysWhatHappened: a dry run whose fit moves weights must not
// say "Nothing changed" (it used to, whatever the table showed); a fit that
// moves nothing says so.
func TestModelFitSaysWhatHappened(t *testing.T) {
	c := testcollector.Start(t, nil)
	out, _, err := runCLI(t, c.Data, "model", "fit")
	if err != nil || !strings.Contains(out, "Nothing changed: the fit gives the weights in use") {
		t.Fatalf("fit with no verdicts moves nothing and should say so: %v\n%s", err, out)
	}
	seedVerdicts(t, c, 3, 3)
	out, _, err = runCLI(t, c.Data, "model", "fit")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`geo\.high_risk_peer +3\.600 +[0-2]\.\d{3} +-\d\.\d{3}`).MatchString(out) {
		t.Fatalf("three false positives should lower geo.high_risk_peer:\n%s", out)
	}
	if strings.Contains(out, "Nothing changed") || !strings.Contains(out, "Dry run: nothing written. Run with --apply") {
		t.Errorf("a dry run whose fit moves weights says it changed nothing:\n%s", out)
	}
	if !strings.Contains(out, fmt.Sprintf("--apply needs at least %d verdicts of each kind", server.MinVerdictsToApply)) {
		t.Errorf("fit below the minimum should say what --apply needs:\n%s", out)
	}
}

// TestModelFitApplyMinimum: --apply refuses with fewer than the documented
// minimum of verdicts of either kind, writing nothing; at the minimum it
// writes the weights and the collector uses them, as model config shows.
func TestModelFitApplyMinimum(t *testing.T) {
	cfgPath := filepath.Join(t.TempDir(), "analysis.yaml")
	os.WriteFile(cfgPath, []byte("review_threshold: 0.55\n"), 0o644)
	c := testcollector.Start(t, func(cfg *server.Config) { cfg.AnalysisConfig = cfgPath })
	min := server.MinVerdictsToApply
	seedVerdicts(t, c, min, min-1)
	_, _, err := runCLI(t, c.Data, "model", "fit", "--apply")
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("refusing to apply: --apply needs at least %d verdicts of each kind", min)) {
		t.Fatalf("apply with %d false positives: %v", min-1, err)
	}
	if b, _ := os.ReadFile(cfgPath); string(b) != "review_threshold: 0.55\n" {
		t.Fatalf("a refused apply changed the config:\n%s", b)
	}
	seedVerdicts(t, c, 0, 1)
	out, _, err := runCLI(t, c.Data, "model", "fit", "--apply")
	if err != nil || !strings.Contains(out, "Applied: written to "+cfgPath) {
		t.Fatalf("apply with %d of each: %v\n%s", min, err, out)
	}
	b, _ := os.ReadFile(cfgPath)
	m := regexp.MustCompile(`geo\.high_risk_peer: ([0-9.]+)`).FindSubmatch(b)
	if m == nil || string(m[1]) == "3.600" || !strings.Contains(string(b), "review_threshold: 0.55") {
		t.Fatalf("applied config:\n%s", b)
	}

	// model config asks the collector: its --config file (not DATA/analysis.yaml) with the applied weights.
	yamlOut, stderr, err := runCLI(t, c.Data, "model", "config", "-o", "yaml")
	if err != nil || !strings.Contains(stderr, "the collector's ("+cfgPath) {
		t.Fatalf("model config: %v\n%s", err, stderr)
	}
	if !strings.Contains(yamlOut, "review_threshold: 0.55") || !regexp.MustCompile(`geo\.high_risk_peer: `+regexp.QuoteMeta(strings.TrimRight(strings.TrimRight(string(m[1]), "0"), "."))+`\d*\n`).MatchString(yamlOut) {
		t.Errorf("model config -o yaml is not the config in effect (peer weight %s):\n%s", m[1], yamlOut)
	}
	jsonOut, _, err := runCLI(t, c.Data, "model", "config", "-o", "json")
	var doc struct {
		ReviewThreshold float64            `json:"review_threshold"`
		Weights         map[string]float64 `json:"weights"`
	}
	if err != nil || json.Unmarshal([]byte(jsonOut), &doc) != nil || doc.ReviewThreshold != 0.55 || doc.Weights["net.colocated"] == 0 {
		t.Errorf("model config -o json: %v %+v\n%s", err, doc, jsonOut)
	}
	table, _, err := runCLI(t, c.Data, "model", "config")
	if err != nil || !regexp.MustCompile(`\nreview_threshold +0\.55\n`).MatchString(table) || !strings.Contains(table, "\nweights.net.colocated ") {
		t.Errorf("model config table: %v\n%s", err, table)
	}
}

// TestModelConfigWithoutCollector: with no collector answering, model
// config reads DATA/analysis.yaml over the defaults as serve would.
func TestModelConfigWithoutCollector(t *testing.T) {
	data := t.TempDir()
	os.WriteFile(filepath.Join(data, "analysis.yaml"), []byte("review_threshold: 0.6\n"), 0o644)
	out, stderr, err := runCLI(t, data, "model", "config", "-o", "yaml")
	if err != nil || !strings.Contains(out, "review_threshold: 0.6\n") || !strings.Contains(out, "net.colocated: 3.6") ||
		!strings.Contains(stderr, "read as serve would") {
		t.Fatalf("model config without a collector: %v\n%s\n%s", err, out, stderr)
	}
	out, _, err = runCLI(t, data, "model", "config", "--defaults")
	if err != nil || !regexp.MustCompile(`net\.colocated: +3\.6 +# proof`).MatchString(out) {
		t.Fatalf("model config --defaults: %v\n%s", err, out)
	}
	// Given a server, no file stands in for an unreachable collector.
	if _, _, err := runCLI(t, data, "--server", "127.0.0.1:1", "model", "config"); err == nil {
		t.Fatal("model config with an unreachable --server succeeded")
	}
}

// TestApplyMinimumDocumented: the minimum --apply needs is the same number
// in the collector, model fit --help and docs/CLI.md.
func TestApplyMinimumDocumented(t *testing.T) {
	want := fmt.Sprintf("at least %d verdicts of each kind", server.MinVerdictsToApply)
	help, _, err := runCLI(t, t.TempDir(), "model", "fit", "--help")
	if err != nil || !strings.Contains(strings.Join(strings.Fields(help), " "), want) {
		t.Errorf("model fit --help lacks %q: %v\n%s", want, err, help)
	}
	doc, err := os.ReadFile("../../docs/CLI.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(doc), fmt.Sprintf("at least **%d verdicts of each kind**", server.MinVerdictsToApply)) {
		t.Errorf("docs/CLI.md does not document the minimum of %d verdicts of each kind", server.MinVerdictsToApply)
	}
}
