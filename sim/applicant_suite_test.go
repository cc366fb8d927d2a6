package sim_test

import (
	"fmt"
	"math"
	"net/netip"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"
	"text/tabwriter"
	"time"
	"unicode"

	"golang.org/x/text/unicode/norm"
	"google.golang.org/protobuf/proto"

	"github.com/farmwatch/farmwatch/collector/analysis"
	"github.com/farmwatch/farmwatch/collector/applicants"
	"github.com/farmwatch/farmwatch/geo"
	"github.com/farmwatch/farmwatch/geo/geotest"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
	"github.com/farmwatch/farmwatch/sim"
)

const applicantSeed = 17

// applicantSuiteConfig is the suite's analysis config: the company's
// egress allowlisted and the corpus's staffing agency declared, as an
// operator would.
func applicantSuiteConfig() string {
	return "allow:\n  egress_cidrs: [" + sim.CompanyEgress + "]\n" +
		"applicants:\n  agencies:\n    - name: " + sim.AgencyName + "\n      domains: [" + sim.AgencyDomain + "]\n" +
		"      phones: [\"" + sim.AgencyPhone + "\"]\n      networks: [" + sim.AgencyNetwork + "]\n"
}

// applicantCorpus is the corpus normalised by the importer's own
// Normalize, as the collector stores it.
func applicantCorpus(t testing.TB) []sim.ApplicantCase {
	t.Helper()
	cases := sim.ApplicantCorpus(applicantSeed)
	for _, c := range cases {
		if errs := applicants.Normalize(c.Applicant); len(errs) > 0 {
			t.Fatalf("%s (%s): %v", c.Applicant.GetId(), c.Scenario, errs)
		}
	}
	return cases
}

// demoLocate is a real geo resolver over the demo networks' databases.
func demoLocate(t testing.TB) func(a netip.Addr) geo.Location {
	t.Helper()
	dir := t.TempDir()
	city, asn, err := geotest.WriteDatabases(dir, geotest.DemoNetworks())
	if err != nil {
		t.Fatal(err)
	}
	r, err := geo.Open(city, asn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r.Lookup
}

// screenAll indexes the corpus under cfg and screens every applicant a day
// after the last application.
func screenAll(cases []sim.ApplicantCase, cfg analysis.Config, locate func(netip.Addr) geo.Location) map[string]analysis.ApplicantScreen {
	x := analysis.NewApplicantIndex(analysis.ApplicantEnv{Config: func() *analysis.Config { return &cfg }, Locate: locate})
	var last time.Time
	for _, c := range cases {
		x.Put(c.Applicant)
		if t := c.Applicant.GetAppliedAt().AsTime(); t.After(last) {
			last = t
		}
	}
	out := map[string]analysis.ApplicantScreen{}
	for _, c := range cases {
		out[c.Applicant.GetId()] = x.Screen(c.Applicant.GetId(), last.Add(24*time.Hour))
	}
	return out
}

func parseSuiteConfig(t testing.TB, extra string) analysis.Config {
	t.Helper()
	cfg, err := analysis.ParseConfig([]byte(applicantSuiteConfig() + extra))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestApplicantSuite screens the labelled corpus (normalised by the
// importer, located by a real geo resolver) and holds every case to the
// review threshold with the suite's margin: a planted applicant at least
// Margin over it, an honest one at least Margin under it. It prints
// precision and recall per scenario and the closest case of each, and
// checks the verdicts with every applicant weight moved 15 % either way.
func TestApplicantSuite(t *testing.T) {
	cases := applicantCorpus(t)
	locate := demoLocate(t)
	cfg := parseSuiteConfig(t, "")
	screens := screenAll(cases, cfg, locate)

	type outcome struct {
		n, atReview int
		margin      float64
		worst       string
	}
	by := map[string]*outcome{}
	var tp, fp, fn int
	for _, c := range cases {
		o := by[c.Scenario]
		if o == nil {
			o = &outcome{margin: math.Inf(1)}
			by[c.Scenario] = o
		}
		s := screens[c.Applicant.GetId()]
		planted := sim.ApplicantPlanted(c.Scenario)
		o.n++
		at := s.Score >= reviewThreshold
		if at {
			o.atReview++
		}
		switch {
		case at && planted:
			tp++
		case at:
			fp++
		case planted:
			fn++
		}
		m := reviewThreshold - s.Score
		if planted {
			m = -m
		}
		if m < o.margin {
			o.margin, o.worst = m, fmt.Sprintf("%s %.3f %s", c.Applicant.GetId(), s.Score, rulesOf(s))
		}
		if m < margin {
			t.Errorf("%s applicant %s (%s) scores %.3f, not %.1f %s review:", c.Scenario, c.Applicant.GetId(), c.Applicant.GetName(),
				s.Score, margin, map[bool]string{true: "over", false: "under"}[planted])
			for _, ev := range s.Evidence {
				t.Logf("  %s %.2f: %s", ev.GetRule(), ev.GetWeight(), ev.GetExplanation())
			}
		}
	}
	tw := tabwriter.NewWriter(os.Stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "applicant suite (seed %d, review at %.2f)\nscenario\tplanted\tapplicants\tat review\tprecision\trecall\tmargin\tclosest case\n", applicantSeed, reviewThreshold)
	names := make([]string, 0, len(by))
	for s := range by {
		names = append(names, s)
	}
	sort.Strings(names)
	for _, s := range names {
		o := by[s]
		prec, rec := "-", "-"
		if sim.ApplicantPlanted(s) {
			rec = fmt.Sprintf("%.2f", float64(o.atReview)/float64(o.n))
			if o.atReview > 0 {
				prec = "1.00" // everyone in a planted scenario is planted
			}
		} else if o.atReview > 0 {
			prec = "0.00"
		}
		fmt.Fprintf(tw, "%s\t%v\t%d\t%d\t%s\t%s\t%+.3f\t%s\n", s, sim.ApplicantPlanted(s), o.n, o.atReview, prec, rec, o.margin, o.worst)
	}
	fmt.Fprintf(tw, "all\t\t%d\t%d\t%.2f\t%.2f\t\t\n", len(cases), tp+fp, ratio(tp, tp+fp), ratio(tp, tp+fn))
	tw.Flush()

	applicantSensitivity(t, cases, locate)
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 1
	}
	return float64(a) / float64(b)
}

func rulesOf(s analysis.ApplicantScreen) string {
	var out []string
	for _, ev := range s.Evidence {
		out = append(out, fmt.Sprintf("%s=%.2f", ev.GetRule(), ev.GetWeight()))
	}
	return "[" + strings.Join(out, " ") + "]"
}

// applicantSensitivity: with each applicant rule's weight x0.85 and x1.15,
// and all of them together, every planted applicant stays at review and
// every honest one under it.
func applicantSensitivity(t *testing.T, cases []sim.ApplicantCase, locate func(netip.Addr) geo.Location) {
	base := analysis.DefaultConfig()
	var rules []string
	for _, r := range analysis.Rules() {
		if r.Source == analysis.SourceApplicant {
			rules = append(rules, r.ID)
		}
	}
	type variant struct {
		name    string
		weights map[string]float64
	}
	var variants []variant
	for _, f := range []float64{0.85, 1.15} {
		all := map[string]float64{}
		for _, r := range rules {
			variants = append(variants, variant{fmt.Sprintf("%s x%.2f", r, f), map[string]float64{r: base.Weights[r] * f}})
			all[r] = base.Weights[r] * f
		}
		variants = append(variants, variant{fmt.Sprintf("every applicant weight x%.2f", f), all})
	}
	wrong := 0
	for _, v := range variants {
		var y strings.Builder
		y.WriteString("weights:\n")
		for r, w := range v.weights {
			fmt.Fprintf(&y, "  %s: %g\n", r, w)
		}
		screens := screenAll(cases, parseSuiteConfig(t, y.String()), locate)
		for _, c := range cases {
			s := screens[c.Applicant.GetId()]
			if at := s.Score >= reviewThreshold; at != sim.ApplicantPlanted(c.Scenario) {
				wrong++
				t.Errorf("%s: %s applicant %s scores %.3f %s", v.name, c.Scenario, c.Applicant.GetId(), s.Score, rulesOf(s))
			}
		}
	}
	t.Logf("sensitivity: %d configs (each of %d applicant weights x0.85 and x1.15, then all together), %d wrong verdicts", len(variants), len(rules), wrong)
}

// TestApplicantFairnessRenaming renames every applicant through one
// consistent mapping to names of other origins, written with other
// accents, case and word order in each application, and requires the
// same rules at the same weights for everyone: no rule reads a name but to
// compare two applications' names.
func TestApplicantFairnessRenaming(t *testing.T) {
	cases := applicantCorpus(t)
	locate := demoLocate(t)
	cfg := parseSuiteConfig(t, "")
	before := screenAll(cases, cfg, locate)

	given := []string{"Nguyễn", "Łukasz", "Zoë", "Chidi", "Søren", "Aarav", "Małgorzata", "Tenzin", "Oğuz", "Siobhán",
		"Kofi", "Ngozi", "Thảo", "Björn", "Yerlan", "Amaru", "Itzel", "Hōkū", "Dũng", "Émilie", "Gökhan", "Ludmila",
		"Amani", "Keanu", "Saoirse", "Jiří", "Ananya", "Mihail", "Pania", "Tariq", "Ximena", "Ólafur", "Rangi", "Bích"}
	family := []string{"Trần", "Wójcik", "Okonkwo", "Ærø", "Çelik", "Mbeki", "Ó Súilleabháin", "Dvořák", "Quispe",
		"Nakashima", "Al-Farsi", "Kahananui", "Þórsson", "Ramírez", "Baptiste", "Abdulov", "Mwangi", "Hernández",
		"Lê", "Kowalczyk", "Achterberg", "Yılmaz", "Ngata", "Bjørnstad", "Obi", "Schäfer", "Tuilagi", "Vásquez", "Öberg",
		"Nkemelu", "Häkkinen", "Pérez", "Sato", "Żuk"}
	mapping := map[string][2]string{} // folded old name -> new given, family
	taken := map[string]bool{}
	i := 0
	renamed := make([]sim.ApplicantCase, len(cases))
	for k, c := range cases {
		key := fold(c.Applicant.GetName())
		m, ok := mapping[key]
		for !ok {
			m = [2]string{given[i%len(given)], family[(i/len(given)+i)%len(family)]}
			i++
			if f := fold(m[0] + " " + m[1]); !taken[f] {
				taken[f], mapping[key], ok = true, m, true
			}
		}
		a := proto.Clone(c.Applicant).(*pb.Applicant)
		// Each application writes the name its own way: order, case, accents.
		switch k % 3 {
		case 0:
			a.Name = m[0] + " " + m[1]
		case 1:
			a.Name = strings.ToUpper(m[1]) + ", " + m[0]
		default:
			a.Name = stripMarks(m[0]) + " " + stripMarks(m[1])
		}
		renamed[k] = sim.ApplicantCase{Scenario: c.Scenario, Applicant: a}
	}
	after := screenAll(renamed, cfg, locate)
	for _, c := range cases {
		id := c.Applicant.GetId()
		b, a := before[id], after[id]
		if b.Score != a.Score || rulesOf(b) != rulesOf(a) || !slices.Equal(b.Related, a.Related) {
			t.Errorf("%s (%s): renamed from %q, scores %.4f %s, was %.4f %s", id, c.Scenario, c.Applicant.GetName(), a.Score, rulesOf(a), b.Score, rulesOf(b))
		}
	}
}

// TestApplicantHonestImmigrant: an immigrant whose number is written "+1",
// with schools and employers abroad, stays under review, and so does the
// same person with a US school: the schools' country is not a feature.
func TestApplicantHonestImmigrant(t *testing.T) {
	cases := applicantCorpus(t)
	locate := demoLocate(t)
	cfg := parseSuiteConfig(t, "")
	before := screenAll(cases, cfg, locate)
	var local []sim.ApplicantCase
	n := 0
	for _, c := range cases {
		a := c.Applicant
		if c.Scenario == sim.ApplicantImmigrant {
			n++
			if s := before[a.GetId()]; s.Score >= reviewThreshold-margin {
				t.Errorf("immigrant %s scores %.3f %s", a.GetId(), s.Score, rulesOf(s))
			}
			a = proto.Clone(a).(*pb.Applicant)
			a.Education = []*pb.EducationEntry{{Institution: "University of Texas at Austin"}}
		}
		local = append(local, sim.ApplicantCase{Scenario: c.Scenario, Applicant: a})
	}
	if n == 0 {
		t.Fatal("the corpus has no immigrant")
	}
	after := screenAll(local, cfg, locate)
	for _, c := range cases {
		if c.Scenario == sim.ApplicantImmigrant && after[c.Applicant.GetId()].Score != before[c.Applicant.GetId()].Score {
			t.Errorf("immigrant %s: a foreign school changes the score (%.4f vs %.4f)", c.Applicant.GetId(),
				before[c.Applicant.GetId()].Score, after[c.Applicant.GetId()].Score)
		}
	}
}

func fold(s string) string { return analysis.FoldName(s) }

// stripMarks writes a name without its accents, as a form without them
// would.
func stripMarks(s string) string {
	var b strings.Builder
	for _, r := range norm.NFD.String(s) {
		if !unicode.Is(unicode.Mn, r) {
			b.WriteRune(r)
		}
	}
	return b.String()
}
