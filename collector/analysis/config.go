// Package analysis turns stored reports into evidence, risk scores and
// alerts. Rules are pure functions of a hire, the device's state and one
// report; the engine runs them inside the ingest transaction, so analysis is
// incremental and never rescans stored reports.
package analysis

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
)

// Config holds every weight, threshold and allowlist of the analysis. One
// JSON file (`farmwatch serve --config FILE`) overrides any of the defaults.
type Config struct {
	// Prior is the log-odds of a device before any evidence.
	Prior float64 `json:"prior"`
	// Weights are the log-odds each rule adds when it fires.
	Weights map[string]float64 `json:"weights"`
	// AlertThreshold is the score at which a device alert opens.
	AlertThreshold float64 `json:"alert_threshold"`
	// ReviewThreshold is the score above which a reviewer should look first.
	ReviewThreshold float64 `json:"review_threshold"`
	// AllowedTools are catalog ids of the company's sanctioned remote-support
	// tools: their presence is not evidence.
	AllowedTools []string `json:"allowed_tools"`
	// HighRiskCountries are ISO codes whose remote-access peers weigh more.
	HighRiskCountries []string `json:"high_risk_countries"`
}

// Rule names, as DESIGN section 4 lists them.
const (
	RuleRATPresent      = "rat.present"
	RuleCountryMismatch = "geo.country_mismatch"
)

// DefaultConfig is the shipped configuration.
func DefaultConfig() Config {
	return Config{
		Prior: -3.0,
		Weights: map[string]float64{
			RuleRATPresent:      1.5,
			RuleCountryMismatch: 3.0,
		},
		AlertThreshold:    0.15,
		ReviewThreshold:   0.5,
		AllowedTools:      nil,
		HighRiskCountries: []string{"KP", "CN", "RU", "IR"},
	}
}

// LoadConfig reads a JSON config file over the defaults.
func LoadConfig(path string) (Config, error) {
	cfg := DefaultConfig()
	if path == "" {
		return cfg, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return cfg, fmt.Errorf("read analysis config: %w", err)
	}
	over := Config{}
	if err := json.Unmarshal(b, &over); err != nil {
		return cfg, fmt.Errorf("analysis config %s: %w", path, err)
	}
	for k, v := range over.Weights {
		if _, ok := cfg.Weights[k]; !ok {
			return cfg, fmt.Errorf("analysis config %s: unknown rule %q in weights", path, k)
		}
		cfg.Weights[k] = v
	}
	if over.Prior != 0 {
		cfg.Prior = over.Prior
	}
	if over.AlertThreshold != 0 {
		cfg.AlertThreshold = over.AlertThreshold
	}
	if over.ReviewThreshold != 0 {
		cfg.ReviewThreshold = over.ReviewThreshold
	}
	if over.AllowedTools != nil {
		cfg.AllowedTools = over.AllowedTools
	}
	if over.HighRiskCountries != nil {
		cfg.HighRiskCountries = over.HighRiskCountries
	}
	return cfg, nil
}

func (c Config) toolAllowed(id string) bool { return slices.Contains(c.AllowedTools, id) }

func (c Config) highRisk(country string) bool {
	return country != "" && slices.Contains(c.HighRiskCountries, country)
}
