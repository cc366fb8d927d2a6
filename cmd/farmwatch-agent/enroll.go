package main

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"time"

	"github.com/spf13/cobra"

	"github.com/farmwatch/farmwatch/agent/collect"
	"github.com/farmwatch/farmwatch/agent/uplink"
	"github.com/farmwatch/farmwatch/internal/cli"
)

func newEnrollCmd() *cobra.Command {
	var o uplink.EnrollOptions
	var stateDir string
	var force bool
	cmd := &cobra.Command{
		Use:   "enroll --collector HOST:PORT --token TOKEN [--ca-fingerprint SHA256]",
		Short: "Enroll this laptop with the collector using a one-time token",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.Collector == "" || o.Token == "" {
				return cli.Usagef("--collector and --token are required")
			}
			return enroll(cmd.Context(), cmd, o, stateDir, force)
		},
	}
	cmd.Flags().StringVar(&o.Collector, "collector", "", "collector address HOST:PORT")
	cmd.Flags().StringVar(&o.Token, "token", "", "one-time enrollment token from `farmwatch tokens create`")
	cmd.Flags().StringVar(&o.CAFingerprint, "ca-fingerprint", "", "SHA-256 fingerprint of the collector CA to pin (recommended)")
	cmd.Flags().StringVar(&stateDir, "state", defaultStateDir(), "directory for the device identity and spool")
	cmd.Flags().BoolVar(&force, "force", false, "enroll again even if an identity exists (the old device stops reporting)")
	return cmd
}

func enroll(ctx context.Context, cmd *cobra.Command, o uplink.EnrollOptions, stateDir string, force bool) error {
	if id, err := uplink.LoadIdentity(stateDir); err == nil && !force {
		fmt.Fprintf(cmd.OutOrStdout(), "already enrolled as device %s (hire %s) with %s; use --force to enroll again\n",
			id.DeviceID, id.HireID, id.Collector)
		return nil
	}
	host, _ := os.Hostname()
	o.Hostname, o.OS, o.AgentVersion = host, runtime.GOOS, collect.Version
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	id, fp, err := uplink.Enroll(ctx, o)
	if err != nil {
		return fmt.Errorf("enroll with %s: %w", o.Collector, err)
	}
	if err := id.Save(stateDir); err != nil {
		return err
	}
	if o.CAFingerprint == "" {
		fmt.Fprintf(cmd.ErrOrStderr(), "warning: no --ca-fingerprint given; trusting collector CA sha256:%s from now on\n", fp)
	}
	fmt.Fprintf(cmd.OutOrStdout(), "enrolled as device %s for hire %s; identity in %s\n", id.DeviceID, id.HireID, stateDir)
	return nil
}
