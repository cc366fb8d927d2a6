package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/farmwatch/farmwatch/agent/uplink"
	"github.com/farmwatch/farmwatch/internal/agentlimits"
)

// installConfig is the one file IT pushes to every laptop, on every OS.
type installConfig struct {
	Collector      collectorList `json:"collector"`
	Token          string        `json:"enrollment_token,omitempty"`
	CAFingerprint  string        `json:"ca_fingerprint,omitempty"`
	ReportInterval string        `json:"report_interval,omitempty"`
	// CollectorReturnInterval: how long an agent on a fallback collector
	// waits before it checks the preferred one again.
	CollectorReturnInterval string `json:"collector_return_interval,omitempty"`
	StateDir                string `json:"state_dir,omitempty"`
	SpoolMax                int    `json:"spool_max_reports,omitempty"`
	raw                     []byte
}

// collectorList is the install config's "collector": one address, several
// separated by commas, or a JSON list of addresses (an MDM's plist array
// becomes one), kept as the comma-separated form that collectorAddrs reads.
type collectorList string

func (l *collectorList) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*l = collectorList(one)
		return nil
	}
	var list []string
	if err := json.Unmarshal(b, &list); err != nil {
		return errors.New(`"collector": want "HOST[:PORT]", several separated by commas, or a list of them`)
	}
	for i, e := range list {
		if strings.Contains(e, ",") {
			return fmt.Errorf(`"collector" list, entry %d %q: one HOST[:PORT] per entry`, i+1, e)
		}
		if strings.TrimSpace(e) == "" {
			return fmt.Errorf(`"collector" list, entry %d is empty`, i+1)
		}
	}
	*l = collectorList(strings.Join(list, ","))
	return nil
}

// collectors are the config's collector addresses, the preferred first.
func (c *installConfig) collectors() ([]string, error) {
	return collectorAddrs(string(c.Collector))
}

// MinCollectorReturnInterval bounds collector_return_interval: an agent
// on a fallback must not keep knocking at a collector that is down.
const MinCollectorReturnInterval = 30 * time.Second

func (c *installConfig) returnInterval() (time.Duration, error) {
	if c.CollectorReturnInterval == "" {
		return uplink.DefaultReturnInterval, nil
	}
	d, err := time.ParseDuration(c.CollectorReturnInterval)
	if err != nil || d < MinCollectorReturnInterval {
		return 0, fmt.Errorf("collector_return_interval %q: want a duration of at least %s, e.g. \"5m\"",
			c.CollectorReturnInterval, MinCollectorReturnInterval)
	}
	return d, nil
}

func loadInstallConfig(path string) (*installConfig, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	c := &installConfig{raw: b}
	// Notepad and PowerShell 5 write a byte-order mark; JSON has none.
	dec := json.NewDecoder(bytesReader(bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))))
	dec.DisallowUnknownFields()
	if err := dec.Decode(c); err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	if c.Collector == "" {
		return nil, fmt.Errorf("config %s: \"collector\" (HOST:PORT) is required", path)
	}
	if _, err := c.collectors(); err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	if err := c.checkLimits(); err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

// checkLimits refuses a report interval or a spool size beyond what the
// collector expects of an agent: it refuses sequence numbers that run
// further ahead than such an agent's could.
func (c *installConfig) checkLimits() error {
	if _, err := c.interval(); err != nil {
		return err
	}
	if _, err := c.returnInterval(); err != nil {
		return err
	}
	if c.SpoolMax < 0 || c.SpoolMax > agentlimits.SpoolReports {
		return fmt.Errorf("spool_max_reports %d: want 1 to %d, or leave it out for %d", c.SpoolMax,
			agentlimits.SpoolReports, agentlimits.SpoolReports)
	}
	return nil
}

func (c *installConfig) interval() (time.Duration, error) {
	if c.ReportInterval == "" {
		return 5 * time.Minute, nil
	}
	d, err := time.ParseDuration(c.ReportInterval)
	if err != nil || d < agentlimits.MinReportInterval {
		return 0, fmt.Errorf("report_interval %q: want a duration of at least %s, e.g. \"5m\"", c.ReportInterval,
			agentlimits.MinReportInterval)
	}
	return d, nil
}

// StateDirEnv names a state dir for a run by hand: a user trying the agent
// without root, or a test. --state wins over it, and it over the config's
// state_dir.
const StateDirEnv = "FARMWATCH_AGENT_STATE"

// stateDirOverride is --state, else $FARMWATCH_AGENT_STATE, else "".
func stateDirOverride(flag string) string {
	if flag != "" {
		return flag
	}
	return os.Getenv(StateDirEnv)
}

// defaultStateDir is where the agent keeps its identity and spool.
func defaultStateDir() string {
	switch runtime.GOOS {
	case "windows":
		pd := os.Getenv("ProgramData")
		if pd == "" {
			pd = `C:\ProgramData`
		}
		return filepath.Join(pd, "farmwatch", "agent")
	case "darwin":
		return "/Library/Application Support/farmwatch/agent"
	default:
		return "/var/lib/farmwatch-agent"
	}
}
