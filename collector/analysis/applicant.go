package analysis

import (
	"fmt"
	"math"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode"

	"golang.org/x/text/unicode/norm"
	"google.golang.org/protobuf/proto"

	"github.com/farmwatch/farmwatch/geo"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// KindApplicant is the alert kind of an applicant.
const KindApplicant = "applicant"

// Applicant rule ids: one rule_applicant_*.go file each (docs/APPLICANTS.md).
const (
	RuleApplicantSharedPhone     = "applicant.shared_phone"
	RuleApplicantSharedEmail     = "applicant.shared_email"
	RuleApplicantSharedAddress   = "applicant.shared_address"
	RuleApplicantSharedIP        = "applicant.shared_ip"
	RuleApplicantSharedReference = "applicant.shared_reference"
	RuleApplicantSimilarHistory  = "applicant.similar_history"
	RuleApplicantIdentityReuse   = "applicant.identity_reuse"
	RuleApplicantInstitution     = "applicant.high_risk_institution"
	RuleApplicantPhoneFormat     = "applicant.phone_format"
	RuleApplicantGeo             = "applicant.geo_inconsistent"
	RuleApplicantDisposable      = "applicant.disposable_email"
	RuleApplicantVoIP            = "applicant.voip_phone"
)

// applicantDecay: an application is a document, not a device's behaviour;
// its evidence holds for a year after the later application it names was
// made, then fades out over 90 days (a ring that applied two years ago says
// little of today's applicant).
var applicantDecay = Decay{Hold: 365 * 24 * time.Hour, Fade: 90 * 24 * time.Hour}

// ApplicantEnv is what screening needs from the collector.
type ApplicantEnv struct {
	// Config returns the analysis config in effect (it may change between
	// calls, e.g. after model fit --apply).
	Config func() *Config
	// Locate geolocates a submission IP; nil when there are no databases.
	Locate func(netip.Addr) geo.Location
}

// Kinds of the details that tie applications together.
const (
	keyPhone   = "phone"   // E.164
	keyEmail   = "email"   // canonical address
	keyAddress = "address" // address_key or shipping_key
	keyIP      = "ip"      // submission IP
	keyRef     = "ref"     // a reference or profile URL, normalised
)

// applicantEntry is one indexed applicant and what it is compared by.
type applicantEntry struct {
	slot int32
	a    *pb.Applicant
	// name is the name folded for case, diacritics, punctuation and word
	// order: compared for equality only, never read otherwise.
	name string
	// jobs are the work history's employer keys with start months.
	jobs []string
	keys []string // kind + "\x00" + value
	// contacts are the phones (E.164) and emails (canonical) only.
	contacts []string
	sig      *signature
	at       time.Time
}

// ApplicantIndex holds every stored applicant in memory, indexed for the
// cross-application rules: an inverted map per shared detail, the folded
// names, and MinHash signatures in LSH buckets. Safe for concurrent use.
type ApplicantIndex struct {
	env ApplicantEnv

	mu      sync.RWMutex
	byID    map[string]int32
	entries []*applicantEntry // by slot; nil when free
	free    []int32
	shared  map[string][]int32 // detail key -> slots
	names   map[string][]int32 // folded name -> slots
	// LSH buckets as linked lists: head[band key] is the first
	// slot*lshBands+band in the bucket, next[] chains them (-1 ends), so a
	// bucket of one costs one map entry and no slice.
	head map[uint64]int32
	next []int32
}

// NewApplicantIndex makes an empty index.
func NewApplicantIndex(env ApplicantEnv) *ApplicantIndex {
	if env.Config == nil {
		cfg := DefaultConfig()
		env.Config = func() *Config { return &cfg }
	}
	return &ApplicantIndex{env: env, byID: map[string]int32{}, shared: map[string][]int32{},
		names: map[string][]int32{}, head: map[uint64]int32{}}
}

// Len is how many applicants the index holds.
func (x *ApplicantIndex) Len() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return len(x.byID)
}

// Put adds or replaces a normalised applicant and returns the ids whose
// screening may have changed by it: its own, and those it shares (or
// shared, before a replace) anything with.
func (x *ApplicantIndex) Put(a *pb.Applicant) []string {
	cfg := x.env.Config()
	e := newApplicantEntry(a, cfg)
	x.mu.Lock()
	defer x.mu.Unlock()
	affected := map[string]bool{a.GetId(): true}
	if old, ok := x.byID[a.GetId()]; ok {
		x.ties(x.entries[old], cfg, affected)
		x.remove(old)
	}
	x.insert(e)
	x.ties(e, cfg, affected)
	return sortedIDs(affected)
}

// Remove drops an applicant and returns the ids it was tied to.
func (x *ApplicantIndex) Remove(id string) []string {
	x.mu.Lock()
	defer x.mu.Unlock()
	slot, ok := x.byID[id]
	if !ok {
		return nil
	}
	affected := map[string]bool{}
	x.ties(x.entries[slot], x.env.Config(), affected)
	delete(affected, id)
	x.remove(slot)
	return sortedIDs(affected)
}

func sortedIDs(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for id := range m {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

func (x *ApplicantIndex) insert(e *applicantEntry) {
	if n := len(x.free); n > 0 {
		e.slot, x.free = x.free[n-1], x.free[:n-1]
		x.entries[e.slot] = e
	} else {
		e.slot = int32(len(x.entries))
		x.entries = append(x.entries, e)
		for range lshBands {
			x.next = append(x.next, -1)
		}
	}
	x.byID[e.a.GetId()] = e.slot
	for _, k := range e.keys {
		x.shared[k] = append(x.shared[k], e.slot)
	}
	if e.name != "" {
		x.names[e.name] = append(x.names[e.name], e.slot)
	}
	if e.sig != nil {
		for b, k := range e.sig.bands() {
			s := e.slot*lshBands + int32(b)
			if h, ok := x.head[k]; ok {
				x.next[s] = h
			} else {
				x.next[s] = -1
			}
			x.head[k] = s
		}
	}
}

func (x *ApplicantIndex) remove(slot int32) {
	e := x.entries[slot]
	drop := func(m map[string][]int32, k string) {
		l := slices.DeleteFunc(m[k], func(s int32) bool { return s == slot })
		if len(l) == 0 {
			delete(m, k)
		} else {
			m[k] = l
		}
	}
	for _, k := range e.keys {
		drop(x.shared, k)
	}
	if e.name != "" {
		drop(x.names, e.name)
	}
	if e.sig != nil {
		for b, k := range e.sig.bands() {
			s := slot*lshBands + int32(b)
			if h := x.head[k]; h == s {
				if x.next[s] < 0 {
					delete(x.head, k)
				} else {
					x.head[k] = x.next[s]
				}
			} else {
				for p := h; p >= 0; p = x.next[p] {
					if x.next[p] == s {
						x.next[p] = x.next[s]
						break
					}
				}
			}
			x.next[s] = -1
		}
	}
	delete(x.byID, e.a.GetId())
	x.entries[slot] = nil
	x.free = append(x.free, slot)
}

// ties adds to out every applicant e is or may be tied to: those sharing a
// detail or its folded name, and those whose history is similar.
func (x *ApplicantIndex) ties(e *applicantEntry, cfg *Config, out map[string]bool) {
	for _, k := range e.keys {
		for _, s := range x.shared[k] {
			out[x.entries[s].a.GetId()] = true
		}
	}
	if e.name != "" {
		for _, s := range x.names[e.name] {
			out[x.entries[s].a.GetId()] = true
		}
	}
	for _, o := range x.similar(e, cfg) {
		out[o.e.a.GetId()] = true
	}
}

// similarEntry is another applicant whose history is a near-duplicate.
type similarEntry struct {
	e   *applicantEntry
	sim float64
}

// similar finds, through the LSH buckets, the applicants whose history has
// an estimated similarity to e's of at least the configured threshold.
func (x *ApplicantIndex) similar(e *applicantEntry, cfg *Config) []similarEntry {
	if e.sig == nil {
		return nil
	}
	var seen map[int32]bool
	var out []similarEntry
	for _, k := range e.sig.bands() {
		h, ok := x.head[k]
		if !ok {
			continue
		}
		for s := h; s >= 0; s = x.next[s] {
			slot := s / lshBands
			if slot == e.slot || seen[slot] {
				continue
			}
			if seen == nil {
				seen = map[int32]bool{}
			}
			seen[slot] = true
			o := x.entries[slot]
			if sim := e.sig.similarity(o.sig); sim >= cfg.Applicants.SimilarityThreshold {
				out = append(out, similarEntry{o, sim})
			}
		}
	}
	return out
}

// newApplicantEntry derives what the index compares an applicant by.
func newApplicantEntry(a *pb.Applicant, cfg *Config) *applicantEntry {
	e := &applicantEntry{a: a, name: foldName(a.GetName()), at: applicantTime(a)}
	add := func(kind, v string) {
		if v == "" {
			return
		}
		k := kind + "\x00" + v
		if !slices.Contains(e.keys, k) {
			e.keys = append(e.keys, k)
		}
	}
	for _, p := range a.GetPhonesNormalized() {
		if p.GetE164() != "" {
			add(keyPhone, p.GetE164())
			e.contacts = append(e.contacts, "phone:"+p.GetE164())
		}
	}
	for _, m := range a.GetEmailsNormalized() {
		if m.GetCanonical() != "" {
			add(keyEmail, m.GetCanonical())
			e.contacts = append(e.contacts, "email:"+m.GetCanonical())
		}
	}
	add(keyAddress, a.GetAddressKey())
	add(keyAddress, a.GetShippingKey())
	if ip, err := netip.ParseAddr(strings.TrimSpace(a.GetSubmissionIp())); err == nil {
		add(keyIP, ip.Unmap().String())
	}
	for _, r := range a.GetReferences() {
		add(keyRef, normReference(r))
	}
	for _, u := range a.GetProfileUrls() {
		add(keyRef, normURL(u))
	}
	for _, w := range a.GetWorkHistory() {
		if k := nameKey(w.GetEmployer()); k != "" {
			e.jobs = append(e.jobs, k+"@"+month(w.GetStart()))
		}
	}
	slices.Sort(e.jobs)
	if sh := shingles(historyText(a)); len(sh) >= cfg.Applicants.MinShingles {
		e.sig = minhash(sh)
	}
	return e
}

// historyText is what near-duplicate detection compares: the work history
// as written (employers, titles, descriptions) and the résumé's text.
func historyText(a *pb.Applicant) string {
	var b strings.Builder
	for _, w := range a.GetWorkHistory() {
		b.WriteString(w.GetEmployer())
		b.WriteString(" . ")
		b.WriteString(w.GetTitle())
		b.WriteString(" . ")
		b.WriteString(w.GetDescription())
		b.WriteString(" . ")
	}
	b.WriteString(a.GetResumeText())
	return b.String()
}

func month(d string) string {
	if len(d) >= 7 {
		return d[:7]
	}
	return d
}

// applicantTime is when the application was made: applied_at, else when
// the collector first stored it.
func applicantTime(a *pb.Applicant) time.Time {
	if t := a.GetAppliedAt(); t != nil {
		return t.AsTime()
	}
	if t := a.GetCreatedAt(); t != nil {
		return t.AsTime()
	}
	return time.Time{}
}

// FoldName is the name as applications are compared by it (foldName).
func FoldName(s string) string { return foldName(s) }

// foldName folds a name for equality between applications: Unicode
// decomposition with the marks dropped, lower case, letters and digits
// only, words sorted (so "Kim Min-jun" and "Min-jun Kim" are one name). It
// says nothing about a name's origin, and no rule reads it but to compare.
func foldName(s string) string {
	var b strings.Builder
	for _, r := range norm.NFD.String(s) {
		switch {
		case unicode.Is(unicode.Mn, r):
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(unicode.ToLower(r))
		default:
			b.WriteRune(' ')
		}
	}
	words := strings.Fields(b.String())
	slices.Sort(words)
	return strings.Join(words, " ")
}

// normURL compares profile URLs: no scheme, "www.", query, fragment or
// trailing slash; lower case.
func normURL(u string) string {
	u = strings.ToLower(strings.TrimSpace(u))
	u = strings.TrimPrefix(strings.TrimPrefix(u, "https://"), "http://")
	u = strings.TrimPrefix(u, "www.")
	if i := strings.IndexAny(u, "?#"); i >= 0 {
		u = u[:i]
	}
	u = strings.TrimRight(u, "/")
	if !strings.Contains(u, "/") && !strings.Contains(u, ".") {
		return ""
	}
	return "url:" + u
}

// normReference compares references: an email lower-cased, a phone by its
// digits, a name folded.
func normReference(r string) string {
	r = strings.TrimSpace(r)
	switch {
	case r == "":
		return ""
	case strings.Contains(r, "@"):
		return "email:" + strings.ToLower(r)
	}
	digits := 0
	var d strings.Builder
	for _, c := range r {
		if c >= '0' && c <= '9' {
			digits++
			d.WriteRune(c)
		}
	}
	if digits >= 7 {
		s := d.String()
		if len(s) == 11 && s[0] == '1' {
			s = s[1:] // a NANP number with and without its country code
		}
		return "phone:" + s
	}
	if f := foldName(r); f != "" {
		return "name:" + f
	}
	return ""
}

// sameIdentity: two applications are one identity when their folded names
// are equal and their work histories share a job (employer and start
// month), or both have none. Every other pair is two different identities:
// strangers with one name have different histories.
func sameIdentity(a, b *applicantEntry) bool {
	if a.name == "" || a.name != b.name {
		return false
	}
	if len(a.jobs) == 0 && len(b.jobs) == 0 {
		return true
	}
	for _, j := range a.jobs {
		if _, ok := slices.BinarySearch(b.jobs, j); ok {
			return true
		}
	}
	return false
}

// ApplicantScreen is one applicant's screening.
type ApplicantScreen struct {
	Score    float64
	Evidence []*pb.Evidence
	// Related are the other applicants the evidence names.
	Related []string
}

// applicantCase is what an applicant rule sees: the applicant, the index
// (read-locked) and the config.
type applicantCase struct {
	x   *ApplicantIndex
	e   *applicantEntry
	cfg *Config
	now time.Time
	// related collects the applicants the evidence names.
	related map[string]bool
}

// Screen scores one indexed applicant at now.
func (x *ApplicantIndex) Screen(id string, now time.Time) ApplicantScreen {
	cfg := x.env.Config()
	x.mu.RLock()
	defer x.mu.RUnlock()
	slot, ok := x.byID[id]
	if !ok {
		return ApplicantScreen{}
	}
	c := &applicantCase{x: x, e: x.entries[slot], cfg: cfg, now: now, related: map[string]bool{}}
	var out ApplicantScreen
	z := cfg.Prior
	for _, r := range applicantRules() {
		ev := r.Applicant(c)
		if ev == nil {
			continue
		}
		c.finish(r, ev)
		z += ev.GetWeight()
		out.Evidence = append(out.Evidence, ev)
	}
	out.Score = sigmoid(z)
	out.Related = sortedIDs(c.related)
	return out
}

var applicantRuleList = sync.OnceValue(func() []*RuleSpec {
	var out []*RuleSpec
	for _, r := range Rules() {
		if r.Source == SourceApplicant {
			out = append(out, r)
		}
	}
	return out
})

func applicantRules() []*RuleSpec { return applicantRuleList() }

// evidence makes a line at the rule's configured weight times factor;
// finish fades it.
func (c *applicantCase) evidence(rule string, factor float64, text string, facts map[string]string, others ...*applicantEntry) *pb.Evidence {
	at := c.e.at
	for _, o := range others {
		c.related[o.a.GetId()] = true
		if o.at.After(at) {
			at = o.at
		}
	}
	ev := &pb.Evidence{Rule: rule, Weight: c.cfg.Weights[rule] * factor, Explanation: text, Facts: facts}
	if !at.IsZero() {
		ev.ObservedAt, ev.FirstSeen = tsOf(at), tsOf(at)
	}
	return ev
}

// finish fades a line by the time since its later application and fills in
// what a reviewer reads beside it.
func (c *applicantCase) finish(r *RuleSpec, ev *pb.Evidence) {
	d := r.decay(c.cfg)
	ev.FreshWeight, ev.PeakWeight = ev.Weight, ev.Weight
	if ts := ev.GetObservedAt(); ts != nil && c.now.After(ts.AsTime()) {
		ev.Weight *= d.Factor(c.now.Sub(ts.AsTime()))
	}
	ev.Class, ev.Decay = string(r.Class), d.String()
}

// shareFactor is a shared-detail rule's multiple for n other identities.
func (c *applicantCase) shareFactor(n int) float64 {
	return math.Min(1+c.cfg.Applicants.ShareFactorStep*float64(n-1), c.cfg.Applicants.MaxShareFactor)
}

// sharing is one detail this applicant shares and the other identities that
// share it.
type sharing struct {
	value  string
	others []*applicantEntry
}

// shared lists, for one kind of detail, the values the applicant shares
// with different identities, skipping values excluded by the config (the
// excluded func says why, or "").
func (c *applicantCase) shared(kind string, excluded func(string) bool) []sharing {
	var out []sharing
	prefix := kind + "\x00"
	for _, k := range c.e.keys {
		if !strings.HasPrefix(k, prefix) {
			continue
		}
		v := k[len(prefix):]
		slots := c.x.shared[k]
		if len(slots) < 2 || (excluded != nil && excluded(v)) {
			continue
		}
		var others []*applicantEntry
		for _, s := range slots {
			if o := c.x.entries[s]; s != c.e.slot && !sameIdentity(c.e, o) {
				others = append(others, o)
			}
		}
		if len(others) > 0 {
			out = append(out, sharing{v, others})
		}
	}
	return out
}

// distinctIdentities counts the other identities among entries: entries
// of one folded name count once.
func distinctIdentities(shares []sharing) ([]*applicantEntry, int) {
	var all []*applicantEntry
	names := map[string]bool{}
	seen := map[int32]bool{}
	for _, s := range shares {
		for _, o := range s.others {
			if !seen[o.slot] {
				seen[o.slot] = true
				all = append(all, o)
				names[o.name] = true
			}
		}
	}
	slices.SortFunc(all, func(a, b *applicantEntry) int { return strings.Compare(a.a.GetId(), b.a.GetId()) })
	return all, len(names)
}

// who names applicants as a reviewer reads them: "A-102 (Jane Roe)", the
// first ten and how many more.
func who(es []*applicantEntry) string {
	const show = 10
	var parts []string
	for i, o := range es {
		if i == show {
			parts = append(parts, fmt.Sprintf("and %d more", len(es)-show))
			break
		}
		parts = append(parts, fmt.Sprintf("%s (%s)", o.a.GetId(), o.a.GetName()))
	}
	return strings.Join(parts, ", ")
}

func ids(es []*applicantEntry) string {
	out := make([]string, len(es))
	for i, o := range es {
		out[i] = o.a.GetId()
	}
	return strings.Join(out, ",")
}

// sharedEvidence is the line of a shared-detail rule: what is shared, with
// whom, factored by how many other identities share it.
func (c *applicantCase) sharedEvidence(rule, what string, shares []sharing, show func(string) string) *pb.Evidence {
	if len(shares) == 0 {
		return nil
	}
	all, n := distinctIdentities(shares)
	var parts, values []string
	for _, s := range shares {
		v := s.value
		if show != nil {
			v = show(v)
		}
		values = append(values, v)
		parts = append(parts, fmt.Sprintf("%s %s with %s", what, v, who(s.others)))
	}
	f := c.shareFactor(n)
	text := fmt.Sprintf("Shares the %s, across %d other identit%s (weight x%s).", strings.Join(parts, "; the "), n, plural(n, "y", "ies"), trimFloat(f))
	return c.evidence(rule, f, text, map[string]string{"shared": strings.Join(values, "; "), "others": ids(all),
		"identities": fmt.Sprint(n)}, all...)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// ApplicantAlert updates prev (the applicant's latest alert, or nil) with a
// screening: it returns the alert to store and true, or nil and false when
// the applicant has no alert and needs none (score under the alert
// threshold, or nothing a reviewer has not judged). A reviewed alert keeps
// its status; evidence that disappears (a tied applicant erased) lowers the
// score but the peak stays. A resolved alert is not reopened by the
// evidence it was resolved on: only a rule it did not show, or an
// applicant it did not name, opens a new alert, returned with an empty id
// for the caller to number.
func ApplicantAlert(prev *pb.Alert, a *pb.Applicant, s ApplicantScreen, cfg *Config, now time.Time) (*pb.Alert, bool) {
	var alert *pb.Alert
	switch {
	case prev != nil && prev.GetStatus() == "resolved" && !judgedBefore(prev, s):
		// New evidence after a verdict: a new alert, the old one kept as
		// the record of that verdict.
	case prev != nil:
		alert = proto.Clone(prev).(*pb.Alert)
	}
	if alert == nil {
		if s.Score < cfg.AlertThreshold || len(s.Evidence) == 0 {
			return nil, false
		}
		alert = &pb.Alert{Kind: KindApplicant, Status: "open", CreatedAt: tsOf(now)}
	}
	alert.Kind, alert.ApplicantId = KindApplicant, a.GetId()
	if a.GetHireId() != "" {
		alert.HireId = a.GetHireId()
	}
	alert.Score = s.Score
	if s.Score > alert.GetPeakScore() {
		alert.PeakScore, alert.PeakAt = s.Score, tsOf(now)
	}
	alert.Evidence = s.Evidence
	alert.RelatedApplicants = s.Related
	alert.UpdatedAt = tsOf(now)
	alert.Summary = ApplicantSummary(a, s)
	return alert, true
}

// judgedBefore tells whether every line of s that adds to the score, and
// every applicant it names, was in front of the reviewer of prev.
func judgedBefore(prev *pb.Alert, s ApplicantScreen) bool {
	rules := map[string]bool{}
	for _, ev := range prev.GetEvidence() {
		rules[ev.GetRule()] = true
	}
	for _, ev := range s.Evidence {
		if ev.GetWeight() > 0 && !rules[ev.GetRule()] {
			return false
		}
	}
	for _, id := range s.Related {
		if !slices.Contains(prev.GetRelatedApplicants(), id) {
			return false
		}
	}
	return true
}

// ApplicantSummary is the one line a reviewer reads in the alert list.
func ApplicantSummary(a *pb.Applicant, s ApplicantScreen) string {
	lines := slices.Clone(s.Evidence)
	slices.SortStableFunc(lines, func(x, y *pb.Evidence) int {
		switch {
		case x.GetWeight() > y.GetWeight():
			return -1
		case x.GetWeight() < y.GetWeight():
			return 1
		}
		return 0
	})
	var rules []string
	for i, ev := range lines {
		if i == 3 {
			rules = append(rules, fmt.Sprintf("+%d more", len(lines)-3))
			break
		}
		rules = append(rules, ev.GetRule())
	}
	text := fmt.Sprintf("applicant %s (%s) scores %.2f: %s", a.GetId(), a.GetName(), s.Score, strings.Join(rules, ", "))
	if n := len(s.Related); n > 0 {
		text += fmt.Sprintf("; tied to %d other applicant%s", n, plural(n, "", "s"))
	}
	return text
}
