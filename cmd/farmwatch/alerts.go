package main

import (
	"context"
	"fmt"
	"sort"

	"github.com/spf13/cobra"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

func newAlertsCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "alerts", Short: "Alerts for reviewers, highest score first"}
	cmd.AddCommand(newAlertsListCmd(), newAlertsShowCmd())
	return cmd
}

func newAlertsListCmd() *cobra.Command {
	var statusFlag, device, output string
	var minScore float64
	cmd := &cobra.Command{
		Use:   "list [--status open] [--min-score X]",
		Short: "List alerts",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			resp, err := call(cmd, func(ctx context.Context, c pb.AdminServiceClient) (*pb.ListAlertsResponse, error) {
				return c.ListAlerts(ctx, &pb.ListAlertsRequest{Status: statusFlag, MinScore: minScore, DeviceId: device})
			})
			if err != nil {
				return err
			}
			if output == "json" {
				return printJSON(cmd.OutOrStdout(), resp)
			}
			tw := newTable(cmd.OutOrStdout(), "ALERT", "KIND", "STATUS", "SCORE", "DEVICE", "HIRE", "UPDATED", "SUMMARY")
			for _, a := range resp.GetAlerts() {
				row(tw, a.GetId(), a.GetKind(), a.GetStatus(), fmt.Sprintf("%.2f", a.GetScore()), orDash(a.GetDeviceId()),
					orDash(a.GetHireId()), ts(a.GetUpdatedAt()), a.GetSummary())
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&statusFlag, "status", "", "open, acknowledged or resolved (default: all)")
	cmd.Flags().Float64Var(&minScore, "min-score", 0, "only alerts scoring at least this (0-1)")
	cmd.Flags().StringVar(&device, "device", "", "only this device's alerts")
	addOutputFlag(cmd, &output)
	return cmd
}

func newAlertsShowCmd() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "show ID",
		Short: "Show an alert with every sign and its contribution",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			a, err := call(cmd, func(ctx context.Context, c pb.AdminServiceClient) (*pb.Alert, error) {
				return c.GetAlert(ctx, &pb.GetAlertRequest{Id: args[0]})
			})
			if err != nil {
				return err
			}
			if output == "json" {
				return printJSON(cmd.OutOrStdout(), a)
			}
			printAlert(cmd, a)
			return nil
		},
	}
	addOutputFlag(cmd, &output)
	return cmd
}

func printAlert(cmd *cobra.Command, a *pb.Alert) {
	w := cmd.OutOrStdout()
	fmt.Fprintf(w, "Alert %s (%s, %s): score %.2f\n", a.GetId(), a.GetKind(), a.GetStatus(), a.GetScore())
	fmt.Fprintf(w, "  %s\n", a.GetSummary())
	fmt.Fprintf(w, "  device %s, hire %s; opened %s, updated %s\n", orDash(a.GetDeviceId()), orDash(a.GetHireId()),
		ts(a.GetCreatedAt()), ts(a.GetUpdatedAt()))
	ev := append([]*pb.Evidence(nil), a.GetEvidence()...)
	sort.SliceStable(ev, func(i, j int) bool { return ev[i].GetWeight() > ev[j].GetWeight() })
	fmt.Fprintln(w, "  Evidence (log-odds added to the prior):")
	for _, e := range ev {
		fmt.Fprintf(w, "    %+5.2f  %-22s %s\n", e.GetWeight(), e.GetRule(), e.GetExplanation())
	}
}
