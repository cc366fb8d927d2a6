package analysis

import (
	"math"
	"sort"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// Verdict is one resolved alert as training data: which rules fired and what
// the reviewer decided.
type Verdict struct {
	Rules     map[string]bool
	Confirmed bool
}

// VerdictFromAlert reads a resolved alert; ok is false for alerts without a
// confirmed or false-positive verdict.
func VerdictFromAlert(a *pb.Alert) (Verdict, bool) {
	if a.GetStatus() != "resolved" || (a.GetVerdict() != "confirmed" && a.GetVerdict() != "false-positive") {
		return Verdict{}, false
	}
	v := Verdict{Rules: map[string]bool{}, Confirmed: a.GetVerdict() == "confirmed"}
	for _, e := range a.GetEvidence() {
		v.Rules[e.GetRule()] = true
	}
	return v, true
}

// FitResult is a re-estimated model with its quality on the verdicts.
type FitResult struct {
	Prior                   float64
	Weights                 map[string]float64
	OldPrecision, OldRecall float64
	NewPrecision, NewRecall float64
	Confirmed, FalsePos     int
	Fired                   map[string][2]int // rule -> (confirmed, false positive) counts
}

// Fit re-estimates the prior and the rule weights by L2-regularised logistic
// regression on the verdicts, shrinking each weight towards its current value
// (so a rule that never appears in a verdict keeps its weight), and reports
// precision and recall at the review threshold before and after.
func Fit(cfg Config, verdicts []Verdict, l2 float64) FitResult {
	if l2 <= 0 {
		l2 = 1.0
	}
	rules := RuleNames()
	sort.Strings(rules)
	res := FitResult{Weights: map[string]float64{}, Fired: map[string][2]int{}}
	w0 := make([]float64, len(rules))
	for i, r := range rules {
		w0[i] = cfg.Weights[r]
	}
	b0 := cfg.Prior
	x := make([][]float64, len(verdicts))
	y := make([]float64, len(verdicts))
	for n, v := range verdicts {
		x[n] = make([]float64, len(rules))
		for i, r := range rules {
			if v.Rules[r] {
				x[n][i] = 1
				c := res.Fired[r]
				if v.Confirmed {
					c[0]++
				} else {
					c[1]++
				}
				res.Fired[r] = c
			}
		}
		if v.Confirmed {
			y[n] = 1
			res.Confirmed++
		} else {
			res.FalsePos++
		}
	}
	w := append([]float64(nil), w0...)
	b := b0
	// Gradient descent on mean log-loss + l2/N * |w - w0|^2 (prior too).
	lr := 0.5
	nv := float64(max(len(verdicts), 1))
	for iter := 0; iter < 5000; iter++ {
		gw := make([]float64, len(w))
		gb := 0.0
		for n := range x {
			z := b
			for i := range w {
				z += w[i] * x[n][i]
			}
			d := sigmoid(z) - y[n]
			gb += d
			for i := range w {
				gw[i] += d * x[n][i]
			}
		}
		gb = gb/nv + 2*l2/nv*(b-b0)
		maxStep := math.Abs(gb)
		b -= lr * gb
		for i := range w {
			g := gw[i]/nv + 2*l2/nv*(w[i]-w0[i])
			w[i] -= lr * g
			maxStep = math.Max(maxStep, math.Abs(g))
		}
		if maxStep < 1e-7 {
			break
		}
	}
	res.Prior = b
	for i, r := range rules {
		res.Weights[r] = w[i]
	}
	thr := cfg.ReviewThreshold
	res.OldPrecision, res.OldRecall = precisionRecall(x, y, w0, b0, thr)
	res.NewPrecision, res.NewRecall = precisionRecall(x, y, w, b, thr)
	return res
}

func sigmoid(z float64) float64 { return 1 / (1 + math.Exp(-z)) }

func precisionRecall(x [][]float64, y, w []float64, b, thr float64) (float64, float64) {
	var tp, fp, fn float64
	for n := range x {
		z := b
		for i := range w {
			z += w[i] * x[n][i]
		}
		flagged := sigmoid(z) >= thr
		switch {
		case flagged && y[n] == 1:
			tp++
		case flagged:
			fp++
		case y[n] == 1:
			fn++
		}
	}
	p, r := 1.0, 1.0
	if tp+fp > 0 {
		p = tp / (tp + fp)
	}
	if tp+fn > 0 {
		r = tp / (tp + fn)
	}
	return p, r
}
