package analysis

import (
	"math"
	"strings"
	"testing"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

func TestConfigDefaultsAndOverrides(t *testing.T) {
	cfg := DefaultConfig()
	for _, r := range RuleNames() {
		if _, ok := cfg.Weights[r]; !ok {
			t.Errorf("default config has no weight for %s", r)
		}
	}
	over, err := ParseConfig([]byte("weights:\n  rat.present: 2.0\nallow:\n  egress_cidrs: [203.0.113.0/24, 198.51.100.7]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if over.Weights[RuleRATPresent] != 2.0 || over.Weights[RuleColocated] != cfg.Weights[RuleColocated] {
		t.Errorf("override merged wrongly: %v", over.Weights)
	}
	if !over.companyEgress("203.0.113.77") || !over.companyEgress("198.51.100.7") || over.companyEgress("198.51.100.8") {
		t.Error("egress allowlist not applied")
	}
	for _, bad := range []string{"weights:\n  rat.presnt: 1\n", "unknown_key: 1\n", "review_threshold: 1.5\n", "allow:\n  egress_cidrs: [nonsense]\n"} {
		if _, err := ParseConfig([]byte(bad)); err == nil {
			t.Errorf("config %q accepted", bad)
		}
	}
}

// TestMarginsByClass checks the promise of each class on the defaults, by
// the score one sign alone reaches (not by a recomputed sigmoid): a weak
// sign at its largest stays at least Margin under review, a proof-grade one
// and the smallest farm at least Margin over it.
func TestMarginsByClass(t *testing.T) {
	cfg := DefaultConfig()
	if s := Score(cfg.Prior, nil); s >= cfg.AlertThreshold {
		t.Fatalf("no evidence scores %.3f, at or over the alert threshold", s)
	}
	for _, r := range Rules() {
		alone := Score(cfg.Prior, []*pb.Evidence{{Weight: cfg.Weights[r.ID] * r.maxFactor(&cfg)}})
		switch r.Class {
		case ClassWeak:
			if alone > cfg.ReviewThreshold-Margin {
				t.Errorf("weak %s alone scores %.3f, not %.1f under review %.2f", r.ID, alone, Margin, cfg.ReviewThreshold)
			}
		case ClassProof:
			if alone < cfg.ReviewThreshold+Margin {
				t.Errorf("proof-grade %s alone scores %.3f, not %.1f over review %.2f", r.ID, alone, Margin, cfg.ReviewThreshold)
			}
		}
	}
	for _, f := range cfg.smallestFarms() {
		if s := Score(cfg.Prior, []*pb.Evidence{{Weight: f.weight}}); s < cfg.ReviewThreshold+Margin {
			t.Errorf("smallest %s farm scores %.3f", f.kind, s)
		}
	}
	// A medium-confidence IP-KVM is no proof.
	med := Score(cfg.Prior, []*pb.Evidence{{Weight: cfg.Weights[RuleIPKVM] * confidenceFactor("medium")}})
	if med > cfg.ReviewThreshold-Margin {
		t.Errorf("a medium-confidence IP-KVM alone scores %.3f", med)
	}
	// The korea-hours pattern of the old defaults sat exactly on review.
	if s := Score(cfg.Prior, []*pb.Evidence{{Weight: cfg.Weights[RuleOffHours]}}); s > 0.4 {
		t.Errorf("activity.off_hours alone scores %.3f", s)
	}
}

// TestCheckNamesTheRule: a config that breaks a margin starts with a
// warning naming the rule (the defaults cannot: DefaultConfig panics).
func TestCheckNamesTheRule(t *testing.T) {
	for _, tt := range []struct{ yaml, want string }{
		{"weights:\n  activity.off_hours: 3.0\n", "weak sign activity.off_hours alone scores 0.51"},
		{"weights:\n  rat.present: 2.6\n", "weak sign rat.present"},
		{"prior: -3.01\nweights:\n  activity.off_hours: 3.2\n", "activity.off_hours"},
		{"weights:\n  hire.phone_format: 0.5\n", "hire.phone_format alone scores 0.51 (weight 3.00)"},
		{"weights:\n  hw.ip_kvm: 3.0\n", "proof-grade sign hw.ip_kvm alone scores 0.51"},
		{"cluster:\n  ip_only_factor: 1.0\n", "public-IP-only farm"},
		{"weights:\n  farm.claimed_homes: 0.5\n", "smallest physical-network farm"},
		{"silence:\n  report_interval: 1h\n", "silence.report_interval is read no more"},
		{"evidence:\n  sticky_hours: 48\n", "evidence.sticky_hours is read no more"},
		{"power:\n  window: 32\n", "power.window and power.min_samples are read no more"},
	} {
		cfg, err := ParseConfig([]byte(tt.yaml))
		if err != nil {
			t.Fatalf("%q: %v", tt.yaml, err)
		}
		p := strings.Join(cfg.Check(), "\n")
		if !strings.Contains(p, tt.want) {
			t.Errorf("%q: problems %q, want one saying %q", tt.yaml, p, tt.want)
		}
	}
	if cfg := DefaultConfig(); len(cfg.Check()) != 0 {
		t.Errorf("defaults have problems: %v", cfg.Check())
	}
	// Just under the margin is no problem: 2.54 leaves a weak sign at 0.399.
	cfg, _ := ParseConfig([]byte("weights:\n  activity.off_hours: 2.54\n"))
	if p := cfg.Check(); len(p) != 0 {
		t.Errorf("2.54 flagged: %v", p)
	}
}

// TestNoSumLandsOnTheThreshold: no case may sit on the review threshold by
// the luck of the arithmetic. Every sum of up to five device lines (each
// rule at each weight it can carry) and every farm's lines stay at least
// 0.05 log-odds from the threshold, so `>=` against `>` never decides.
func TestNoSumLandsOnTheThreshold(t *testing.T) {
	cfg := DefaultConfig()
	at := logit(cfg.ReviewThreshold) - cfg.Prior
	const gap = 0.05
	variants := func(r *RuleSpec) []float64 {
		w := cfg.Weights[r.ID]
		switch r.ID {
		case RuleIPKVM:
			return []float64{w, w * confidenceFactor("medium"), w * confidenceFactor("low")}
		case RulePhoneFormat:
			return []float64{w, w * cfg.Hire.PhoneMismatchFactor}
		case RuleColocated:
			return []float64{w, w * cfg.Cluster.IPOnlyFactor}
		}
		return []float64{w}
	}
	var device [][]float64
	for _, r := range Rules() {
		if r.Class != ClassFarm {
			device = append(device, variants(r))
		}
	}
	worst, checked := math.Inf(1), 0
	var walk func(from, depth int, sum float64)
	walk = func(from, depth int, sum float64) {
		if depth > 0 {
			checked++
			if d := math.Abs(sum - at); d < worst {
				worst = d
			}
			if math.Abs(sum-at) < gap-1e-9 {
				t.Fatalf("a sum of %d device lines is %.3f, %.3f from the threshold's %.3f", depth, sum, math.Abs(sum-at), at)
			}
		}
		if depth == 5 {
			return
		}
		for i := from; i < len(device); i++ {
			for _, w := range device[i] {
				walk(i+1, depth+1, sum+w)
			}
		}
	}
	walk(0, 0, 0)
	for _, net := range []float64{1, cfg.Cluster.IPOnlyFactor} {
		for places := 2; places <= 5; places++ {
			for far := 0; far <= 3; far++ {
				sum := cfg.Weights[RuleFarmNetwork]*net + cfg.Weights[RuleFarmHomes]*homesFactor(places) +
					cfg.Weights[RuleFarmFar]*float64(far)/3
				if math.Abs(sum-at) < gap-1e-9 {
					t.Errorf("a farm (network x%.1f, %d places, %d far) sums to %.3f, on the threshold's %.3f", net, places, far, sum, at)
				}
			}
		}
	}
	t.Logf("%d sums of device lines checked; the nearest is %.3f log-odds from the threshold", checked, worst)
}
