package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"slices"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/farmwatch/farmwatch/agent/collect"
	"github.com/farmwatch/farmwatch/agent/reporter"
	"github.com/farmwatch/farmwatch/agent/uplink"
)

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }

func newRunCmd() *cobra.Command {
	var configPath, stateDir string
	var once bool
	cmd := &cobra.Command{
		Use:   "run [--config FILE]",
		Short: "Run as the service: report every interval, spooling while the collector is unreachable",
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return run(ctx, cmd, configPath, stateDir, once)
		},
	}
	cmd.Flags().StringVar(&configPath, "config", "", "install config (JSON: collector, enrollment_token, ca_fingerprint, report_interval, collector_return_interval, state_dir)")
	cmd.Flags().StringVar(&stateDir, "state", "", "directory for the device identity and spool (default: $"+StateDirEnv+", else the config's state_dir, else "+defaultStateDir()+")")
	cmd.Flags().BoolVar(&once, "once", false, "collect and deliver one report now, then exit (non-zero if delivery failed)")
	return cmd
}

func run(ctx context.Context, cmd *cobra.Command, configPath, stateDir string, once bool) error {
	cfg := &installConfig{}
	if configPath != "" {
		var err error
		if cfg, err = loadInstallConfig(configPath); err != nil {
			return err
		}
	} else if managedInstallConfig != nil {
		// macOS: the config an MDM pushed as managed preferences.
		mc, err := managedInstallConfig()
		if err != nil {
			return err
		}
		if mc != nil {
			cfg = mc
		}
	}
	stateDir = stateDirOverride(stateDir)
	if stateDir == "" {
		stateDir = cfg.StateDir
	}
	if stateDir == "" {
		stateDir = defaultStateDir()
	}
	id, err := uplink.LoadIdentity(stateDir)
	identityExisted := err == nil
	if errors.Is(err, uplink.ErrNotEnrolled) && cfg.Token != "" {
		// First start after install: enroll with the token IT pushed.
		if err := enroll(ctx, cmd, uplink.EnrollOptions{Collector: string(cfg.Collector), Token: cfg.Token,
			CAFingerprint: cfg.CAFingerprint}, stateDir, false); err != nil {
			return err
		}
		id, err = uplink.LoadIdentity(stateDir)
	}
	if err != nil {
		return err
	}
	if cfg.Collector != "" {
		// The install config's collectors win over those the device enrolled
		// with: IT adds a collector, or moves one, by pushing a new config,
		// without enrolling the fleet again. They share the pinned CA.
		addrs, _ := cfg.collectors() // checked when the config was read
		if !slices.Equal(addrs, id.Targets()) {
			slog.Info("delivering to the install config's collectors, not those the device enrolled with",
				"collectors", addrs, "enrolled_with", id.Targets())
			id.Collector, id.Collectors = addrs[0], nil
			if len(addrs) > 1 {
				id.Collectors = addrs
			}
		}
	}
	interval, _ := cfg.interval()
	returnInterval, _ := cfg.returnInterval()
	configured, from := time.Duration(0), "default, until the collector answers"
	if cfg.ReportInterval != "" {
		configured, from = interval, "install config, until the collector answers"
	}
	sp, err := reporter.OpenSpool(filepath.Join(stateDir, "spool.db"), cfg.SpoolMax, id.DeviceID, identityExisted, slog.Default())
	if err != nil {
		return err
	}
	defer sp.Close()
	conn, err := uplink.Dial(id)
	if err != nil {
		return err
	}
	defer conn.Close()
	conn.ReturnInterval = returnInterval
	rep := &reporter.Reporter{Spool: sp, Conn: conn, Env: collect.HostEnv(), Interval: interval,
		ConfiguredInterval: configured, IntervalFrom: from,
		ConfigSHA256: reporter.HashConfig(cfg.raw), Log: slog.Default()}
	// The collector's interval from enrollment: the one in effect until an
	// acknowledgement brings a newer one.
	rep.AdoptInterval(time.Duration(id.ReportIntervalSeconds) * time.Second)
	slog.Info("farmwatch-agent running", "device", id.DeviceID, "collectors", conn.Collectors(),
		"interval", rep.Interval, "interval_from", rep.IntervalFrom, "once", once)
	if once {
		if err := rep.Start(); err != nil {
			return err
		}
		cctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		if err := rep.Cycle(cctx); errors.Is(err, reporter.ErrMonitoringEnded) {
			fmt.Fprintln(cmd.OutOrStdout(), "farmwatch-agent: the onboarding period of this laptop has ended; nothing was sent")
			return nil
		} else if err != nil {
			st, _ := sp.Stats()
			return fmt.Errorf("delivery failed, %d report(s) kept in the spool: %w", st.Pending, err)
		}
		st, _ := sp.Stats()
		fmt.Fprintf(cmd.OutOrStdout(), "device %s: report %d delivered, %d pending (collector %s)\n",
			id.DeviceID, st.NextSeq-1, st.Pending, conn.Current())
		return nil
	}
	serviceMemory()
	if err := rep.Run(ctx); !errors.Is(err, reporter.ErrMonitoringEnded) {
		return err
	}
	// Not a failure: the service manager must not restart the agent.
	fmt.Fprintln(cmd.OutOrStdout(), "farmwatch-agent: the onboarding period of this laptop has ended; nothing more is sent, and IT can remove the agent")
	return nil
}

// serviceGCPercent is the service's GOGC. Its live heap is about 1 MB and
// a cycle allocates under 1 MB: at Go's default of 100 the heap grows to
// 4 MB before a collection and stays resident through the interval; at 50
// it stays near 2 MB, for about one more collection a cycle (about 1 ms of
// CPU, measured by BenchmarkFootprint). Returning the free heap to the OS
// after each cycle as well (debug.FreeOSMemory) saved 0.8 MB more and cost
// about 4 ms of CPU a cycle, the pages faulted in again by the next one:
// not done.
const serviceGCPercent = 50

// serviceMemory sets the service's GC percent, unless GOGC in the
// environment (an operator's choice) sets another.
func serviceMemory() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(serviceGCPercent)
	}
}
