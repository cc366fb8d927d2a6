package analysis

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// Class says how far one rule may carry a device on its own.
type Class string

const (
	// ClassProof rules are close to proof (a high-confidence IP-KVM
	// signature, a controller in a sanctioned country, farm membership):
	// alone they may reach the review threshold.
	ClassProof Class = "proof"
	// ClassWeak rules are signs an honest hire with an odd life can show:
	// alone they stay at least Margin under the review threshold.
	ClassWeak Class = "weak"
	// ClassFarm rules are the lines of a farm alert: together they make the
	// farm's own score.
	ClassFarm Class = "farm"
)

// Margin is how far a case must stay from the review threshold: a weak
// sign alone at least this far under it, a farm by the clustering's own
// definition at least this far over it. Outcomes never hinge on equality.
const Margin = 0.1

// Source says where a rule's evidence comes from.
type Source string

const (
	SourceReport  Source = "report"  // every stored report, through Eval
	SourceCluster Source = "cluster" // the device's farm cluster
	SourceSweep   Source = "sweep"   // the periodic sweep over device records
	SourceIngest  Source = "ingest"  // what the collector saw of the delivery
	SourceFarm    Source = "farm"    // a farm alert's own lines
	// SourceApplicant rules screen applicants before the offer; the
	// applicant index runs them (Screen), never a report.
	SourceApplicant Source = "applicant"
)

// Decay is how long remembered evidence keeps counting after it was last
// seen: its whole weight for Hold, then less and less until nothing after
// Fade more. The clock is the device's observed time: it stops while the
// agent is silent, so switching the agent off does not age evidence away.
type Decay struct {
	Hold, Fade time.Duration
}

// Factor is the share of a weight that evidence last seen age ago still
// carries.
func (d Decay) Factor(age time.Duration) float64 {
	switch {
	case age <= d.Hold:
		return 1
	case d.Fade <= 0 || age >= d.Hold+d.Fade:
		return 0
	}
	return 1 - float64(age-d.Hold)/float64(d.Fade)
}

// Span is how long after it was last seen evidence stops counting.
func (d Decay) Span() time.Duration { return d.Hold + d.Fade }

// String is the decay as a reviewer reads it.
func (d Decay) String() string {
	if d.Fade <= 0 {
		return "counts for " + days(d.Hold) + " after last seen"
	}
	return "full for " + days(d.Hold) + " after last seen, then fades out over " + days(d.Fade)
}

func days(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		n := int(d / (24 * time.Hour))
		if n == 1 {
			return "1 day"
		}
		return fmt.Sprintf("%d days", n)
	}
	return fmt.Sprintf("%g h", d.Hours())
}

// RuleSpec is one rule: its function and everything a reviewer, the config
// and the docs need to know of it. Each lives in its own rule_*.go file
// with its table test, and registers itself in init.
type RuleSpec struct {
	ID     string
	Class  Class
	Source Source
	// Weight is the default weight (log-odds).
	Weight float64
	Decay  Decay
	// Doc is the one sentence a reviewer reads in docs/ANALYSIS.md.
	Doc string
	// Eval runs on every report (SourceReport only).
	Eval func(Input) *pb.Evidence
	// Applicant screens one applicant against the index (SourceApplicant
	// only).
	Applicant func(*applicantCase) *pb.Evidence
	// MaxFactor is the largest multiple of the configured weight one firing
	// can carry under cfg (nil: 1): a foreign phone code, say.
	MaxFactor func(cfg *Config) float64
}

var registry = map[string]*RuleSpec{}

// ingestRules maps an ingest event kind (store.Event*) to the rule that
// turns it into evidence.
var ingestRules = map[string]string{}

// register adds a rule; a duplicate or malformed one is a programming error.
func register(r RuleSpec) {
	switch {
	case r.ID == "" || registry[r.ID] != nil:
		panic("analysis: rule registered twice or without an id: " + r.ID)
	case r.Class != ClassProof && r.Class != ClassWeak && r.Class != ClassFarm:
		panic("analysis: rule " + r.ID + " has no class")
	case (r.Source == SourceReport) != (r.Eval != nil):
		panic("analysis: rule " + r.ID + ": report rules, and only they, have Eval")
	case (r.Source == SourceApplicant) != (r.Applicant != nil):
		panic("analysis: rule " + r.ID + ": applicant rules, and only they, have Applicant")
	case r.Doc == "" || r.Decay.Span() <= 0:
		panic("analysis: rule " + r.ID + " needs a doc sentence and a decay")
	}
	registry[r.ID] = &r
}

// Rules lists every registered rule, sorted by id.
func Rules() []*RuleSpec {
	out := make([]*RuleSpec, 0, len(registry))
	for _, r := range registry {
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b *RuleSpec) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// LookupRule returns a registered rule.
func LookupRule(id string) (*RuleSpec, bool) {
	r, ok := registry[id]
	return r, ok
}

// RuleNames lists every rule id, sorted.
func RuleNames() []string {
	out := make([]string, 0, len(registry))
	for _, r := range Rules() {
		out = append(out, r.ID)
	}
	return out
}

// reportRules are the rules run on every report, in id order, made once.
var reportRules []*RuleSpec

func reportRuleList() []*RuleSpec {
	if reportRules == nil {
		for _, r := range Rules() {
			if r.Source == SourceReport {
				reportRules = append(reportRules, r)
			}
		}
	}
	return reportRules
}

func (r *RuleSpec) maxFactor(cfg *Config) float64 {
	if r.MaxFactor == nil {
		return 1
	}
	return math.Max(1, r.MaxFactor(cfg))
}

func (r *RuleSpec) decay(cfg *Config) Decay {
	if d, ok := cfg.Evidence.Decay[r.ID]; ok {
		return Decay{Hold: d.Hold, Fade: d.Fade}
	}
	return r.Decay
}

// logit is the inverse of the sigmoid.
func logit(p float64) float64 { return math.Log(p / (1 - p)) }

// WeightsYAML is the weights block of the default config, generated from
// the registry: every rule at its default weight.
func WeightsYAML() string {
	var b strings.Builder
	b.WriteString("weights:\n")
	for _, r := range Rules() {
		fmt.Fprintf(&b, "  %-28s %-5s # %s\n", r.ID+":", trimFloat(r.Weight), r.Class)
	}
	return b.String()
}

// RuleTable is docs/ANALYSIS.md's table of rules, generated from the
// registry.
func RuleTable() string {
	var b strings.Builder
	b.WriteString("| rule | class | from | fires when | weight | decay |\n| --- | --- | --- | --- | --- | --- |\n")
	for _, r := range Rules() {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", r.ID, r.Class, r.Source, r.Doc, trimFloat(r.Weight), r.Decay)
	}
	return b.String()
}

func trimFloat(f float64) string {
	s := fmt.Sprintf("%.2f", f)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return s
}
