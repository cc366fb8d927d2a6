package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/farmwatch/farmwatch/collector/analysis"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

func newModelCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "model", Short: "The scoring model: rule weights learnt from reviewers' verdicts"}
	var apply bool
	var l2 float64
	var output string
	fit := &cobra.Command{
		Use:   "fit [--apply]",
		Short: "Re-estimate rule weights from resolved alerts (regularised logistic regression); --apply writes them",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			resp, err := call(cmd, func(ctx context.Context, c pb.AdminServiceClient) (*pb.FitModelResponse, error) {
				return c.FitModel(ctx, &pb.FitModelRequest{Apply: apply, L2: l2})
			})
			if err != nil {
				return err
			}
			if output == "json" {
				return printJSON(cmd.OutOrStdout(), resp)
			}
			w := cmd.OutOrStdout()
			printf(w, "Fitted on %d confirmed and %d false-positive verdicts.\n", resp.GetConfirmed(), resp.GetFalsePositives())
			if resp.GetNote() != "" {
				printf(w, "Note: %s\n", resp.GetNote())
			}
			tw := newTableFor(w, output, "RULE", "OLD", "NEW", "CHANGE", "FIRED ON CONFIRMED", "FIRED ON FALSE POSITIVE")
			row(tw, "(prior)", fmt.Sprintf("%.3f", resp.GetOldPrior()), fmt.Sprintf("%.3f", resp.GetNewPrior()),
				fmt.Sprintf("%+.3f", resp.GetNewPrior()-resp.GetOldPrior()), "-", "-")
			for _, r := range resp.GetWeights() {
				row(tw, r.GetRule(), fmt.Sprintf("%.3f", r.GetOldWeight()), fmt.Sprintf("%.3f", r.GetNewWeight()),
					fmt.Sprintf("%+.3f", r.GetNewWeight()-r.GetOldWeight()), r.GetFiredConfirmed(), r.GetFiredFalsePositive())
			}
			tw.Flush()
			printf(w, "At the review threshold: precision %.2f -> %.2f, recall %.2f -> %.2f\n",
				resp.GetOldPrecision(), resp.GetNewPrecision(), resp.GetOldRecall(), resp.GetNewRecall())
			if resp.GetApplied() {
				printf(w, "Applied: written to %s and in use now.\n", resp.GetConfigPath())
			} else {
				printf(w, "Nothing changed; run with --apply to write these weights to %s.\n", resp.GetConfigPath())
			}
			return nil
		},
	}
	fit.Flags().BoolVar(&apply, "apply", false, "write the new weights to the collector's analysis config and use them")
	fit.Flags().Float64Var(&l2, "l2", 1.0, "regularisation: pull towards the current weights (higher = smaller changes)")
	addOutputFlag(fit, &output)

	defaults := &cobra.Command{
		Use:   "config",
		Short: "Print the documented default analysis config (weights, thresholds, allowlists)",
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := cmd.OutOrStdout().Write(analysis.DefaultConfigYAML())
			return err
		},
	}
	cmd.AddCommand(fit, defaults, newBacktestCmd())
	return cmd
}
