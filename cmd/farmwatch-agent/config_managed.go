package main

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// managedPreferencesDomain is the preference domain an MDM configuration
// profile fills on macOS (see packaging/darwin/farmwatch.mobileconfig).
const managedPreferencesDomain = "com.farmwatch.agent"

// managedInstallConfig returns the install config an MDM pushed, or nil
// when there is none; only macOS sets it (config_darwin.go). It is asked
// only when `run` is given no --config.
var managedInstallConfig func() (*installConfig, error)

// parseManagedPreferences turns the managed preferences of
// com.farmwatch.agent, converted to JSON by plutil, into the install config.
// The keys are those of the JSON install config; keys an MDM adds on its own
// (Payload*, PayloadUUID, ...) are ignored, any other unknown key is an error
// so a misspelt key is noticed rather than silently dropped.
func parseManagedPreferences(b []byte, source string) (*installConfig, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("managed preferences %s: %w", source, err)
	}
	known := map[string]bool{"collector": true, "enrollment_token": true, "ca_fingerprint": true,
		"report_interval": true, "collector_return_interval": true, "state_dir": true, "spool_max_reports": true}
	keep := map[string]json.RawMessage{}
	var unknown []string
	for k, v := range m {
		switch {
		case known[k]:
			keep[k] = v
		case strings.HasPrefix(k, "Payload"), strings.HasPrefix(k, "com.apple."):
		default:
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return nil, fmt.Errorf("managed preferences %s: unknown key(s) %s", source, strings.Join(unknown, ", "))
	}
	raw, err := json.Marshal(keep) // map keys are sorted: the same prefs hash the same
	if err != nil {
		return nil, err
	}
	c := &installConfig{raw: raw}
	if err := json.Unmarshal(raw, c); err != nil {
		return nil, fmt.Errorf("managed preferences %s: %w", source, err)
	}
	if c.Collector == "" {
		return nil, fmt.Errorf("managed preferences %s: \"collector\" (HOST:PORT) is required", source)
	}
	if _, err := c.collectors(); err != nil {
		return nil, fmt.Errorf("managed preferences %s: %w", source, err)
	}
	if err := c.checkLimits(); err != nil {
		return nil, fmt.Errorf("managed preferences %s: %w", source, err)
	}
	return c, nil
}
