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
	} `yaml:"geo"`
	Allow struct {
		Tools                []string `yaml:"tools"`
		EgressCIDRs          []string `yaml:"egress_cidrs"`
		VPNInterfacePrefixes []string `yaml:"vpn_interface_prefixes"`
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
		Window        int     `yaml:"window"`
		MinSamples    int     `yaml:"min_samples"`
		ShelfFraction float64 `yaml:"shelf_fraction"`
		IdleSeconds   int64   `yaml:"idle_seconds"`
	} `yaml:"power"`
	Silence struct {
		Intervals      float64       `yaml:"intervals"`
		ReportInterval time.Duration `yaml:"report_interval"`
	} `yaml:"silence"`
	Cluster struct {
		WindowHours         float64  `yaml:"window_hours"`
		MinLinkReports      int      `yaml:"min_link_reports"`
		MinHomeDistanceKM   float64  `yaml:"min_home_distance_km"`
		SharedIPExcludeASNs []uint32 `yaml:"shared_ip_exclude_asns"`
		IPOnlyMinHires      int      `yaml:"ip_only_min_hires"`
		IPOnlyFactor        float64  `yaml:"ip_only_factor"`
	} `yaml:"cluster"`
	Hire struct {
		ShippingFarKM       float64 `yaml:"shipping_far_km"`
		PhoneMismatchFactor float64 `yaml:"phone_mismatch_factor"`
	} `yaml:"hire"`
	Evidence struct {
		StickyHours float64 `yaml:"sticky_hours"`
	} `yaml:"evidence"`

	egress []netip.Prefix
}

// DefaultConfig is the shipped configuration.
func DefaultConfig() Config {
	cfg, err := ParseConfig(nil)
	if err != nil {
		panic("default analysis config: " + err.Error()) // caught by tests
	}
	return cfg
}

// ParseConfig reads a YAML config over the defaults.
func ParseConfig(b []byte) (Config, error) {
	var cfg Config
	if err := decodeStrict(defaultConfigYAML, &cfg); err != nil {
		return cfg, err
	}
	defaults := make(map[string]bool, len(cfg.Weights))
	for k := range cfg.Weights {
		defaults[k] = true
	}
	if len(bytes.TrimSpace(b)) > 0 {
		if err := decodeStrict(b, &cfg); err != nil {
			return cfg, err
		}
	}
	for k := range cfg.Weights {
		if !defaults[k] {
			return cfg, fmt.Errorf("weights: unknown rule %q (rules: %s)", k, strings.Join(RuleNames(), ", "))
		}
	}
	if cfg.ReviewThreshold <= 0 || cfg.ReviewThreshold >= 1 || cfg.AlertThreshold <= 0 || cfg.AlertThreshold >= 1 {
		return cfg, fmt.Errorf("alert_threshold and review_threshold must lie between 0 and 1")
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
		cfg.egress = append(cfg.egress, p)
	}
	return cfg, nil
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

func (c *Config) companyVPNInterface(name string) bool {
	for _, p := range c.Allow.VPNInterfacePrefixes {
		if p != "" && strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}
