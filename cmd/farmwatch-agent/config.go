package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/farmwatch/farmwatch/internal/agentlimits"
)

// installConfig is the one file IT pushes to every laptop, on every OS.
type installConfig struct {
	Collector      string `json:"collector"`
	Token          string `json:"enrollment_token,omitempty"`
	CAFingerprint  string `json:"ca_fingerprint,omitempty"`
	ReportInterval string `json:"report_interval,omitempty"`
	StateDir       string `json:"state_dir,omitempty"`
	SpoolMax       int    `json:"spool_max_reports,omitempty"`
	raw            []byte
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
