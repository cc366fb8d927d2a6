package main

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

func newAlertsCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "alerts", Short: "Alerts for reviewers, highest score first"}
	cmd.AddCommand(newAlertsListCmd(), newAlertsShowCmd(), newAlertsAckCmd(), newAlertsResolveCmd())
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
	printf(w, "Alert %s (%s, %s): score %.2f\n", a.GetId(), a.GetKind(), a.GetStatus(), a.GetScore())
	printf(w, "  %s\n", a.GetSummary())
	if a.GetKind() == "farm" {
		printf(w, "  cluster %s: %d devices of %d hires; opened %s, updated %s\n", a.GetClusterId(), len(a.GetMemberDevices()),
			len(a.GetMemberHires()), ts(a.GetCreatedAt()), ts(a.GetUpdatedAt()))
		printf(w, "  devices: %s\n  hires:   %s\n", strings.Join(a.GetMemberDevices(), ", "), strings.Join(a.GetMemberHires(), ", "))
	} else {
		printf(w, "  device %s, hire %s; opened %s, updated %s\n", orDash(a.GetDeviceId()), orDash(a.GetHireId()),
			ts(a.GetCreatedAt()), ts(a.GetUpdatedAt()))
		if a.GetClusterId() != "" {
			printf(w, "  in cluster %s\n", a.GetClusterId())
		}
	}
	if a.GetStatus() == "resolved" {
		printf(w, "  resolved %s by %s at %s: %s\n", a.GetVerdict(), a.GetResolvedBy(), ts(a.GetResolvedAt()), a.GetNote())
	} else if a.GetNote() != "" {
		printf(w, "  note: %s\n", a.GetNote())
	}
	ev := append([]*pb.Evidence(nil), a.GetEvidence()...)
	sort.SliceStable(ev, func(i, j int) bool { return ev[i].GetWeight() > ev[j].GetWeight() })
	fmt.Fprintln(w, "  Evidence (log-odds added to the prior):")
	for _, e := range ev {
		printf(w, "    %+5.2f  %-22s %s\n", e.GetWeight(), e.GetRule(), e.GetExplanation())
	}
}

func newAlertsAckCmd() *cobra.Command {
	var note, output string
	cmd := &cobra.Command{
		Use:   "ack ID [--note TEXT]",
		Short: "Acknowledge an alert: someone is looking at it",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			a, err := call(cmd, func(ctx context.Context, c pb.AdminServiceClient) (*pb.Alert, error) {
				return c.AckAlert(ctx, &pb.AckAlertRequest{Id: args[0], Note: note})
			})
			if err != nil {
				return err
			}
			if output == "json" {
				return printJSON(cmd.OutOrStdout(), a)
			}
			printf(cmd.OutOrStdout(), "alert %s acknowledged\n", a.GetId())
			return nil
		},
	}
	cmd.Flags().StringVar(&note, "note", "", "what you are doing about it")
	addOutputFlag(cmd, &output)
	return cmd
}

func newAlertsResolveCmd() *cobra.Command {
	var verdict, note, output string
	cmd := &cobra.Command{
		Use:   "resolve ID --verdict confirmed|false-positive --note TEXT",
		Short: "Resolve an alert with a verdict; the verdicts train `farmwatch model fit`",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			if verdict != "confirmed" && verdict != "false-positive" {
				return fmt.Errorf("--verdict %q: want confirmed or false-positive", verdict)
			}
			if strings.TrimSpace(note) == "" {
				return fmt.Errorf("--note is required: say why, for the audit trail")
			}
			a, err := call(cmd, func(ctx context.Context, c pb.AdminServiceClient) (*pb.Alert, error) {
				return c.ResolveAlert(ctx, &pb.ResolveAlertRequest{Id: args[0], Verdict: verdict, Note: note})
			})
			if err != nil {
				return err
			}
			if output == "json" {
				return printJSON(cmd.OutOrStdout(), a)
			}
			printf(cmd.OutOrStdout(), "alert %s resolved: %s\n", a.GetId(), a.GetVerdict())
			return nil
		},
	}
	cmd.Flags().StringVar(&verdict, "verdict", "", "confirmed or false-positive")
	cmd.Flags().StringVar(&note, "note", "", "why (kept in the audit trail)")
	addOutputFlag(cmd, &output)
	return cmd
}
