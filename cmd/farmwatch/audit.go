package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

func newAuditCmd() *cobra.Command {
	var subject, output, since, after string
	var limit uint32
	cmd := &cobra.Command{
		Use:   "audit [--subject ID] [--since TIME] [--after CURSOR] [--limit N]",
		Short: "The audit trail: who changed what, when (newest first; oldest first with --since or --after)",
		Long: `The audit trail: who changed what, when. Newest first; with --since or
--after, oldest first, the order of an export: each entry has a cursor, and
--after CURSOR lists the entries after it (next_cursor in -o json is the
last one listed), so a script can page through the trail and resume.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			req := &pb.ListAuditRequest{Subject: subject, Limit: limit, After: after,
				OldestFirst: cmd.Flags().Changed("since") || cmd.Flags().Changed("after")}
			if since != "" {
				t, err := parseSince(since, time.Now())
				if err != nil {
					return err
				}
				req.Since = timestamppb.New(t)
			}
			resp, err := call(cmd, func(ctx context.Context, c pb.AdminServiceClient) (*pb.ListAuditResponse, error) {
				return c.ListAudit(ctx, req)
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
	cmd.Flags().StringVar(&since, "since", "", "only entries at or after TIME: RFC 3339 (2026-12-01T00:00:00Z), a date (2026-12-01, UTC) or an age (24h)")
	cmd.Flags().StringVar(&after, "after", "", "only entries after this cursor (from a previous page)")
	addOutputFlag(cmd, &output)
	return cmd
}

// parseSince reads --since: an RFC 3339 time, a date (midnight UTC) or an
// age before now.
func parseSince(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("--since %q: want an RFC 3339 time (2026-12-01T00:00:00Z), a date (2026-12-01) or an age (24h)", s)
}
