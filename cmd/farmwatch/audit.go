package main

import (
	"context"

	"github.com/spf13/cobra"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

func newAuditCmd() *cobra.Command {
	var subject, output string
	var limit uint32
	cmd := &cobra.Command{
		Use:   "audit [--subject ID]",
		Short: "The audit trail: who changed what, when (newest first)",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			resp, err := call(cmd, func(ctx context.Context, c pb.AdminServiceClient) (*pb.ListAuditResponse, error) {
				return c.ListAudit(ctx, &pb.ListAuditRequest{Subject: subject, Limit: limit})
			})
			if err != nil {
				return err
			}
			if output == "json" {
				return printJSON(cmd.OutOrStdout(), resp)
			}
			tw := newTableFor(cmd.OutOrStdout(), output, "WHEN", "WHO", "ACTION", "SUBJECT", "DETAIL").shrink("DETAIL")
			for _, e := range resp.GetEntries() {
				row(tw, when(e.GetAt()), e.GetActor(), e.GetAction(), e.GetSubject(), e.GetDetail())
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&subject, "subject", "", "only entries about this alert, hire or config")
	cmd.Flags().Uint32Var(&limit, "limit", 100, "at most this many entries")
	addOutputFlag(cmd, &output)
	return cmd
}
