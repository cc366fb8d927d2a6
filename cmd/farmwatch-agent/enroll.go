package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/farmwatch/farmwatch/agent/collect"
	"github.com/farmwatch/farmwatch/agent/reporter"
	"github.com/farmwatch/farmwatch/agent/uplink"
	"github.com/farmwatch/farmwatch/internal/cli"
)

func newEnrollCmd() *cobra.Command {
	var o uplink.EnrollOptions
	var stateDir string
	var force bool
	cmd := &cobra.Command{
		Use:   "enroll --collector HOST[:PORT][,HOST[:PORT]...] --token TOKEN [--ca-fingerprint SHA256]",
		Short: "Enroll this laptop with the collector using a one-time token",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.Collector == "" || o.Token == "" {
				return cli.Usagef("--collector and --token are required")
			}
			if stateDir = stateDirOverride(stateDir); stateDir == "" {
				stateDir = defaultStateDir()
			}
			return enroll(cmd.Context(), cmd, o, stateDir, force)
		},
	}
	cmd.Flags().StringVar(&o.Collector, "collector", "", fmt.Sprintf("collector address HOST[:PORT] (port %d when left out); several, comma-separated, in order of preference, for failover", DefaultCollectorPort))
	cmd.Flags().StringVar(&o.Token, "token", "", "one-time enrollment token from `farmwatch tokens create`")
	cmd.Flags().StringVar(&o.CAFingerprint, "ca-fingerprint", "", "SHA-256 fingerprint of the collector CA to pin (recommended)")
	cmd.Flags().StringVar(&stateDir, "state", "", "directory for the device identity and spool (default: $"+StateDirEnv+", else "+defaultStateDir()+")")
	cmd.Flags().BoolVar(&force, "force", false, "enroll again even if an identity exists (the old device stops reporting)")
	return cmd
}

func enroll(ctx context.Context, cmd *cobra.Command, o uplink.EnrollOptions, stateDir string, force bool) error {
	if id, err := uplink.LoadIdentity(stateDir); err == nil && !force {
		fmt.Fprintf(cmd.OutOrStdout(), "already enrolled as device %s (hire %s) with %s; use --force to enroll again\n",
			id.DeviceID, id.HireID, id.Collector)
		return nil
	}
	addrs, err := collectorAddrs(o.Collector)
	if err != nil {
		return err
	}
	o.Collector, o.Collectors = addrs[0], nil
	if len(addrs) > 1 {
		o.Collectors = addrs
	}
	host, _ := os.Hostname()
	o.Hostname, o.OS, o.AgentVersion = host, runtime.GOOS, collect.Version
	ctx, cancel := context.WithTimeout(ctx, time.Duration(len(addrs))*uplink.EnrollTimeout)
	defer cancel()
	if err := resolveCollectors(ctx, addrs, cmd.ErrOrStderr()); err != nil {
		return err
	}
	id, fp, err := uplink.Enroll(ctx, o)
	if err != nil {
		return fmt.Errorf("enroll with %s: %w", strings.Join(addrs, ", "), err)
	}
	if err := id.Save(stateDir); err != nil {
		return err
	}
	// The new device's spool, made now, so that the first run finds one and
	// does not take its absence for a lost spool.
	sp, err := reporter.OpenSpool(filepath.Join(stateDir, "spool.db"), 0, id.DeviceID, false, slog.Default())
	if err != nil {
		return fmt.Errorf("create the spool: %w", err)
	}
	if err := sp.Close(); err != nil {
		return fmt.Errorf("create the spool: %w", err)
	}
	if o.CAFingerprint == "" {
		fmt.Fprintf(cmd.ErrOrStderr(), "warning: no --ca-fingerprint given; trusting collector CA sha256:%s from now on\n", fp)
	}
	fmt.Fprintf(cmd.OutOrStdout(), "enrolled as device %s for hire %s; identity in %s\n", id.DeviceID, id.HireID, stateDir)
	return nil
}
