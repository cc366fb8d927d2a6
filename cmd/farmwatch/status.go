package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/farmwatch/farmwatch/collector/adminconn"
)

func newStatusCmd() *cobra.Command {
	var wait time.Duration
	cmd := &cobra.Command{
		Use:   "status [--wait DURATION]",
		Short: "Check that the collector answers; print its CA fingerprint (what agents pin)",
		Long: `Check that the collector answers over TLS with its CA, and print the CA's
SHA-256 fingerprint on standard output (the address on standard error), so that
a script can hand it to farmwatch-agent enroll --ca-fingerprint.
With --wait, keep trying that long: for a collector that is still starting.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o := adminconn.Options{Data: conn.data, Server: conn.server, CA: conn.ca, Cert: conn.cert, Key: conn.key}
			deadline := time.Now().Add(wait)
			for {
				addr, err := checkServing(cmd.Context(), o)
				if err == nil {
					fp, err := o.CAFingerprint()
					if err != nil {
						return fmt.Errorf("collector CA: %w", err)
					}
					fmt.Fprintf(cmd.ErrOrStderr(), "collector at %s is serving\n", addr)
					fmt.Fprintf(cmd.OutOrStdout(), "sha256:%s\n", fp)
					return nil
				}
				if !time.Now().Before(deadline) {
					if wait > 0 {
						return fmt.Errorf("collector not serving after %s: %w", wait, err)
					}
					return err
				}
				select {
				case <-cmd.Context().Done():
					return cmd.Context().Err()
				case <-time.After(200 * time.Millisecond):
				}
			}
		},
	}
	cmd.Flags().DurationVar(&wait, "wait", 0, "keep trying this long, e.g. 1m, while the collector starts")
	return cmd
}

// checkServing asks the collector's health service, through the same
// address, CA and admin certificate as every admin call.
func checkServing(ctx context.Context, o adminconn.Options) (string, error) {
	addr, err := o.Addr()
	if err != nil {
		return "", err
	}
	cc, err := adminconn.DialConn(o)
	if err != nil {
		return "", err
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(ctx, min(conn.timeout, 5*time.Second))
	defer cancel()
	resp, err := healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		return "", fmt.Errorf("collector at %s: %w", addr, plainStatus(err))
	}
	if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		return "", fmt.Errorf("collector at %s: %s", addr, resp.GetStatus())
	}
	return addr, nil
}
