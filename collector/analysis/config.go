// Package analysis turns stored reports into evidence, risk scores, farm
// clusters and alerts. Rules are pure functions of a hire, the device's
// state and one report; the engine runs them inside the ingest transaction,
// so analysis is incremental and never rescans stored reports.
package analysis

import (
	"bytes"
	_ "embed"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/farmwatch/farmwatch/geo"
)

//go:embed default-config.yaml
var defaultConfigYAML []byte

// DefaultConfigYAML is the documented default configuration file.
func DefaultConfigYAML() []byte { return bytes.Clone(defaultConfigYAML) }

// Config holds every weight, threshold and allowlist of the analysis.
type Config struct {
	Prior           float64            `yaml:"prior"`
	AlertThreshold  float64            `yaml:"alert_threshold"`
	ReviewThreshold float64            `yaml:"review_threshold"`
	Weights         map[string]float64 `yaml:"weights"`
	Geo             struct {
		FarKM              float64  `yaml:"far_km"`
		ImpossibleSpeedKMH float64  `yaml:"impossible_speed_kmh"`
		MinJumpKM          float64  `yaml:"min_jump_km"`
		HighRiskCountries  []string `yaml:"high_risk_countries"`
		RTTPathFactor      float64  `yaml:"rtt_path_factor"`
		RTTOverheadMS      float64  `yaml:"rtt_overhead_ms"`
		RTTMinMS           float64  `yaml:"rtt_min_ms"`
	} `yaml:"geo"`
	Allow struct {
		Tools                []string `yaml:"tools"`
		EgressCIDRs          []string `yaml:"egress_cidrs"`
		VPNInterfacePrefixes []string `yaml:"vpn_interface_prefixes"`
		OfficeBSSIDs         []string `yaml:"office_bssids"`
		OfficeGatewayMACs    []string `yaml:"office_gateway_macs"`
	} `yaml:"allow"`
	Locale struct {
		ForeignInputLanguages []string `yaml:"foreign_input_languages"`
	} `yaml:"locale"`
	Activity struct {
		ActiveIdleSeconds int64   `yaml:"active_idle_seconds"`
		MinDays           float64 `yaml:"min_days"`
		MinActiveSamples  int     `yaml:"min_active_samples"`
		NightStartHour    int     `yaml:"night_start_hour"`
		NightEndHour      int     `yaml:"night_end_hour"`
		NightFraction     float64 `yaml:"night_fraction"`
	} `yaml:"activity"`
	Power struct {
		WindowHours   int     `yaml:"window_hours"`
		MinHours      int     `yaml:"min_hours"`
		ShelfFraction float64 `yaml:"shelf_fraction"`
		IdleSeconds   int64   `yaml:"idle_seconds"`
		// Until schema 6 the window counted reports; read and ignored.
		Window     *int `yaml:"window,omitempty"`
		MinSamples *int `yaml:"min_samples,omitempty"`
	} `yaml:"power"`
	Silence struct {
		Intervals float64       `yaml:"intervals"`
		MinSilent time.Duration `yaml:"min_silent"`
		// Until schema 6 silence had its own interval; the collector's
		// --report-interval is now the only one. Read and ignored.
		ReportInterval *time.Duration `yaml:"report_interval,omitempty"`
	} `yaml:"silence"`
	Cluster struct {
		WindowHours       float64 `yaml:"window_hours"`
		MinLinkReports    int     `yaml:"min_link_reports"`
		MinHomeDistanceKM float64 `yaml:"min_home_distance_km"`
		// Public IPs of these networks never link devices, in addition to
		// the mobile carriers of geo/carriers.csv.
		SharedIPExcludeASNs []uint32 `yaml:"shared_ip_exclude_asns"`
		IPOnlyMinHires      int      `yaml:"ip_only_min_hires"`
		IPOnlyFactor        float64  `yaml:"ip_only_factor"`
		NearbyMinShared     int      `yaml:"nearby_min_shared"`
		NearbyPerReport     int      `yaml:"nearby_per_report"`
	} `yaml:"cluster"`
	Hire struct {
		ShippingFarKM       float64 `yaml:"shipping_far_km"`
		PhoneMismatchFactor float64 `yaml:"phone_mismatch_factor"`
	} `yaml:"hire"`
	Applicants ApplicantConfig `yaml:"applicants"`
	Evidence   struct {
		// Decay overrides a rule's documented decay.
		Decay map[string]DecayConfig `yaml:"decay"`
		// Until schema 6 event evidence stayed this long; each rule's decay
		// replaces it. Read and ignored.
		StickyHours *float64 `yaml:"sticky_hours,omitempty"`
	} `yaml:"evidence"`

	// ReportInterval is the collector's report interval (farmwatch serve
	// --report-interval), the one every agent adopts: silence counts in it.
	// Not a key of the file.
	ReportInterval time.Duration `yaml:"-"`

	egress []netip.Prefix
	// agencyNets are the declared staffing agencies' networks.
	agencyNets []netip.Prefix
	// excludeASNs is carriers.csv plus shared_ip_exclude_asns.
	excludeASNs map[uint32]bool
}

// DecayConfig is a decay override in the config file.
type DecayConfig struct {
	Hold time.Duration `yaml:"hold"`
	Fade time.Duration `yaml:"fade"`
}

// DefaultConfig is the shipped configuration. It must pass Check with no
// problem: a default in which a weak sign reaches review alone does not start.
func DefaultConfig() Config {
	cfg, err := ParseConfig(nil)
	if err != nil {
		panic("default analysis config: " + err.Error()) // caught by tests
	}
	if p := cfg.Check(); len(p) > 0 {
		panic("default analysis config: " + strings.Join(p, "; "))
	}
	return cfg
}

// ParseConfig reads a YAML config over the defaults.
func ParseConfig(b []byte) (Config, error) {
	var cfg Config
	if err := decodeStrict(defaultConfigYAML, &cfg); err != nil {
		return cfg, err
	}
	if len(bytes.TrimSpace(b)) > 0 {
		if err := decodeStrict(b, &cfg); err != nil {
			return cfg, err
		}
	}
	for k := range cfg.Weights {
		if _, ok := LookupRule(k); !ok {
			return cfg, fmt.Errorf("weights: unknown rule %q (rules: %s)", k, strings.Join(RuleNames(), ", "))
		}
	}
	for k, d := range cfg.Evidence.Decay {
		if _, ok := LookupRule(k); !ok {
			return cfg, fmt.Errorf("evidence.decay: unknown rule %q", k)
		}
		if d.Hold < 0 || d.Fade < 0 || d.Hold+d.Fade <= 0 {
			return cfg, fmt.Errorf("evidence.decay.%s: hold and fade must not be negative, and not both zero", k)
		}
	}
	if cfg.ReviewThreshold <= 0 || cfg.ReviewThreshold >= 1 || cfg.AlertThreshold <= 0 || cfg.AlertThreshold >= 1 {
		return cfg, fmt.Errorf("alert_threshold and review_threshold must lie between 0 and 1")
	}
	if cfg.ReviewThreshold-Margin <= 0 || cfg.ReviewThreshold+Margin >= 1 {
		return cfg, fmt.Errorf("review_threshold must lie between %.1f and %.1f, so that cases can keep a margin on both sides", Margin, 1-Margin)
	}
	if cfg.Power.WindowHours < 1 || cfg.Power.WindowHours > 64 || cfg.Power.MinHours > cfg.Power.WindowHours {
		return cfg, fmt.Errorf("power: window_hours must lie between 1 and 64, min_hours not above it")
	}
	cfg.egress = nil
	for _, c := range cfg.Allow.EgressCIDRs {
		p, err := netip.ParsePrefix(c)
		if err != nil {
			a, aerr := netip.ParseAddr(c)
			if aerr != nil {
				return cfg, fmt.Errorf("allow.egress_cidrs: %q: %v", c, err)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		cfg.egress = append(cfg.egress, p.Masked())
	}
	for i, m := range cfg.Allow.OfficeBSSIDs {
		if cfg.Allow.OfficeBSSIDs[i] = normMACPrefix(m); cfg.Allow.OfficeBSSIDs[i] == "" {
			return cfg, fmt.Errorf("allow.office_bssids: %q is not a MAC address or prefix", m)
		}
	}
	for i, m := range cfg.Allow.OfficeGatewayMACs {
		if cfg.Allow.OfficeGatewayMACs[i] = normMACPrefix(m); cfg.Allow.OfficeGatewayMACs[i] == "" {
			return cfg, fmt.Errorf("allow.office_gateway_macs: %q is not a MAC address or prefix", m)
		}
	}
	if err := cfg.Applicants.check(); err != nil {
		return cfg, err
	}
	cfg.agencyNets = nil
	for _, ag := range cfg.Applicants.Agencies {
		for _, c := range ag.Networks {
			p, err := parsePrefix(c)
			if err != nil {
				return cfg, fmt.Errorf("applicants.agencies %q: networks: %w", ag.Name, err)
			}
			cfg.agencyNets = append(cfg.agencyNets, p)
		}
	}
	cfg.excludeASNs = map[uint32]bool{}
	for _, c := range geo.Carriers() {
		cfg.excludeASNs[c.ASN] = true
	}
	for _, a := range cfg.Cluster.SharedIPExcludeASNs {
		cfg.excludeASNs[a] = true
	}
	return cfg, nil
}

// Check lists what is wrong with the config's weights against the margins
// the rule classes promise: a weak sign alone must stay at least Margin
// under the review threshold, a proof-grade one alone and the smallest farm
// at least Margin over it; and keys that are read no more. The defaults have
// no problem (DefaultConfig panics otherwise); for an operator's config
// each is a warning at start-up.
func (c *Config) Check() []string {
	var out []string
	under := logit(c.ReviewThreshold-Margin) - c.Prior
	over := logit(c.ReviewThreshold+Margin) - c.Prior
	for _, r := range Rules() {
		w := c.Weights[r.ID] * r.maxFactor(c)
		switch r.Class {
		case ClassWeak:
			if w > under+1e-9 {
				out = append(out, fmt.Sprintf("weak sign %s alone scores %.2f (weight %.2f), not %.1f under review %.2f: give it %.2f or less, or combine it with others",
					r.ID, sigmoid(c.Prior+w), w, Margin, c.ReviewThreshold, under))
			}
		case ClassProof:
			if w < over-1e-9 {
				out = append(out, fmt.Sprintf("proof-grade sign %s alone scores %.2f (weight %.2f), not %.1f over review %.2f: give it %.2f or more",
					r.ID, sigmoid(c.Prior+w), w, Margin, c.ReviewThreshold, over))
			}
		}
	}
	// Membership of a farm that shares only a public IP is a weak sign.
	if w := c.Weights[RuleColocated] * c.Cluster.IPOnlyFactor; w > under+1e-9 {
		out = append(out, fmt.Sprintf("net.colocated in a public-IP-only farm (weight %.2f x ip_only_factor %.2f) alone scores %.2f, not %.1f under review %.2f",
			c.Weights[RuleColocated], c.Cluster.IPOnlyFactor, sigmoid(c.Prior+w), Margin, c.ReviewThreshold))
	}
	for _, f := range c.smallestFarms() {
		if f.weight < over-1e-9 {
			out = append(out, fmt.Sprintf("the smallest %s farm scores %.2f (farm lines %.2f), not %.1f over review %.2f: raise the farm.* weights",
				f.kind, sigmoid(c.Prior+f.weight), f.weight, Margin, c.ReviewThreshold))
		}
	}
	if c.Power.Window != nil || c.Power.MinSamples != nil {
		out = append(out, "power.window and power.min_samples are read no more: the shelf pattern is judged by the hour (power.window_hours, power.min_hours)")
	}
	if c.Silence.ReportInterval != nil {
		out = append(out, "silence.report_interval is read no more: silence counts in the collector's --report-interval, the one interval agents adopt")
	}
	if c.Evidence.StickyHours != nil {
		out = append(out, "evidence.sticky_hours is read no more: every rule's evidence decays as docs/ANALYSIS.md says (evidence.decay overrides)")
	}
	return out
}

func decodeStrict(b []byte, v any) error {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("analysis config: %w", err)
	}
	return nil
}

// LoadConfig reads a YAML config file over the defaults ("" = defaults).
func LoadConfig(path string) (Config, error) {
	if path == "" {
		return DefaultConfig(), nil
	}
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return DefaultConfig(), nil
	}
	if err != nil {
		return Config{}, fmt.Errorf("read analysis config: %w", err)
	}
	cfg, err := ParseConfig(b)
	if err != nil {
		return cfg, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

// WriteWeights writes cfg's prior and weights into the YAML file at path,
// keeping every other key (and comment) of an existing file.
func WriteWeights(path string, cfg Config, stamp string) error {
	var doc yaml.Node
	if b, err := os.ReadFile(path); err == nil && len(bytes.TrimSpace(b)) > 0 {
		if err := yaml.Unmarshal(b, &doc); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
	}
	if doc.Kind == 0 {
		doc = yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{{Kind: yaml.MappingNode}}}
	}
	root := doc.Content[0]
	setKey(root, "prior", &yaml.Node{Kind: yaml.ScalarNode, Value: fmt.Sprintf("%.3f", cfg.Prior)})
	w := &yaml.Node{Kind: yaml.MappingNode}
	for _, k := range sortedKeys(cfg.Weights) {
		w.Content = append(w.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: k},
			&yaml.Node{Kind: yaml.ScalarNode, Value: fmt.Sprintf("%.3f", cfg.Weights[k])})
	}
	w.HeadComment = stamp
	setKey(root, "weights", w)
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return err
	}
	if _, err := ParseConfig(buf.Bytes()); err != nil {
		return fmt.Errorf("refusing to write an invalid config: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, buf.Bytes(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func setKey(m *yaml.Node, key string, val *yaml.Node) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			val.HeadComment = m.Content[i+1].HeadComment + val.HeadComment
			m.Content[i+1] = val
			return
		}
	}
	m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: key}, val)
}

func sortedKeys(m map[string]float64) []string {
	out := slices.Sorted(maps.Keys(m))
	return out
}

func (c *Config) toolAllowed(id string) bool { return slices.Contains(c.Allow.Tools, id) }

func (c *Config) highRisk(country string) bool {
	return country != "" && slices.Contains(c.Geo.HighRiskCountries, strings.ToUpper(country))
}

// companyEgress tells whether a public IP is the company's own VPN or office.
func (c *Config) companyEgress(ip string) bool {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return false
	}
	for _, p := range c.egress {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// silenceAfter is how long without a report makes an agent silent: the
// configured number of report intervals, and never less than min_silent (a
// laptop asleep overnight is not silent).
func (c *Config) silenceAfter() time.Duration {
	interval := c.ReportInterval
	if interval <= 0 {
		interval = 5 * time.Minute
	}
	return max(time.Duration(c.Silence.Intervals*float64(interval)), c.Silence.MinSilent)
}

// SilenceAfter is how long without a report makes an agent silent (the
// collector's metrics count silent devices by it).
func (c *Config) SilenceAfter() time.Duration { return c.silenceAfter() }

// excludedASN tells whether a public IP in this network never links
// devices (a mobile carrier's CGNAT pool, or an operator's addition).
func (c *Config) excludedASN(asn uint32) bool { return c.excludeASNs[asn] }

// officeNetwork tells whether a MAC (a BSSID or gateway MAC, normalised) is
// one of the company's offices.
func officeMAC(list []string, mac string) bool {
	for _, p := range list {
		if mac != "" && strings.HasPrefix(mac, p) {
			return true
		}
	}
	return false
}

func (c *Config) companyVPNInterface(name string) bool {
	for _, p := range c.Allow.VPNInterfacePrefixes {
		if p != "" && strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}
