package main

import (
	"context"
	"fmt"
	"strconv"

	"github.com/spf13/cobra"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

func newWebhooksCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "webhooks",
		Short: "The collector's alert outputs (webhooks, Slack, JSON lines, syslog) and their dead letters",
		Long: `The collector's alert outputs, configured by serve --outputs FILE: webhooks,
Slack, the JSON-lines file and syslog. Each delivers the alert event log from
its own cursor; an event it gave up on after max_attempts is a dead letter
until retried. See docs/ALERTS-OUT.md.`,
	}
	cmd.AddCommand(newWebhooksListCmd(), newWebhooksTestCmd(), newWebhooksRetryCmd())
	return cmd
}

func newWebhooksListCmd() *cobra.Command {
	var output, sink string
	cmd := &cobra.Command{
		Use:   "list [--sink NAME]",
		Short: "Each output's position in the event log, its last outcome, and the dead letters",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			resp, err := call(cmd, func(ctx context.Context, c pb.AdminServiceClient) (*pb.ListWebhooksResponse, error) {
				return c.ListWebhooks(ctx, &pb.ListWebhooksRequest{Sink: sink})
			})
			if err != nil {
				return err
			}
			if output == "json" {
				return printJSON(cmd.OutOrStdout(), resp)
			}
			w := cmd.OutOrStdout()
			if len(resp.GetSinks()) == 0 {
				fmt.Fprintln(w, "no outputs configured (farmwatch serve --outputs FILE; see docs/ALERTS-OUT.md)")
			} else {
				tw := newTableFor(w, output, "NAME", "TYPE", "TARGET", "EVENT", "BEHIND", "DEAD", "LAST SUCCESS", "LAST ERROR").shrink("TARGET", "LAST ERROR")
				for _, s := range resp.GetSinks() {
					lastErr := s.GetLastError()
					if s.GetAttempts() > 0 {
						lastErr = fmt.Sprintf("attempt %d: %s", s.GetAttempts(), lastErr)
					}
					behind := uint64(0)
					if s.GetLastEventId() > s.GetCursor() {
						behind = s.GetLastEventId() - s.GetCursor()
					}
					row(tw, s.GetName(), s.GetType(), s.GetTarget(), s.GetCursor(), behind, s.GetDeadLetters(),
						when(s.GetLastSuccess()), orDash(lastErr))
				}
				if err := tw.Flush(); err != nil {
					return err
				}
			}
			if len(resp.GetDeadLetters()) == 0 {
				return nil
			}
			fmt.Fprintln(w, "\ndead letters (farmwatch webhooks retry NAME --event ID | --all):")
			tw := newTableFor(w, output, "OUTPUT", "EVENT", "TYPE", "ALERT", "ATTEMPTS", "DEAD SINCE", "LAST ERROR").shrink("LAST ERROR")
			for _, d := range resp.GetDeadLetters() {
				row(tw, d.GetSink(), d.GetEventId(), d.GetEventType(), d.GetAlertId(), d.GetAttempts(), when(d.GetDeadAt()), orDash(d.GetLastError()))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&sink, "sink", "", "only this output")
	addOutputFlag(cmd, &output)
	return cmd
}

func newWebhooksTestCmd() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "test NAME",
		Short: "Send a test event (type test, never in the log) to an output now, and say what the receiver did",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			resp, err := call(cmd, func(ctx context.Context, c pb.AdminServiceClient) (*pb.TestWebhookResponse, error) {
				return c.TestWebhook(ctx, &pb.TestWebhookRequest{Sink: args[0]})
			})
			if err != nil {
				return err
			}
			if output == "json" {
				if err := printJSON(cmd.OutOrStdout(), resp); err != nil {
					return err
				}
			}
			took := resp.GetTook().AsDuration().Round(1e6)
			code := ""
			if resp.GetHttpStatus() != 0 {
				code = fmt.Sprintf(" (HTTP %d)", resp.GetHttpStatus())
			}
			if resp.GetError() != "" {
				return fmt.Errorf("%s: the test event was not delivered after %s%s: %s", resp.GetSink(), took, code, resp.GetError())
			}
			if output != "json" {
				printf(cmd.OutOrStdout(), "%s: test event delivered in %s%s\n", resp.GetSink(), took, code)
			}
			return nil
		},
	}
	addOutputFlag(cmd, &output)
	return cmd
}

func newWebhooksRetryCmd() *cobra.Command {
	var eventArgs []string
	var all bool
	cmd := &cobra.Command{
		Use:   "retry NAME (--event ID ... | --all)",
		Short: "Deliver an output's dead letters again (they leave the list once delivered)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(eventArgs) == 0 && !all {
				return usagef("name the dead letters to retry: --event ID (repeatable) or --all")
			}
			var events []uint64
			for _, a := range eventArgs {
				id, err := strconv.ParseUint(a, 10, 64)
				if err != nil || id == 0 {
					return usagef("--event %q: want an event id (a positive number, from farmwatch webhooks list)", a)
				}
				events = append(events, id)
			}
			resp, err := call(cmd, func(ctx context.Context, c pb.AdminServiceClient) (*pb.RetryWebhookResponse, error) {
				return c.RetryWebhook(ctx, &pb.RetryWebhookRequest{Sink: args[0], EventIds: events, All: all})
			})
			if err != nil {
				return err
			}
			printf(cmd.OutOrStdout(), "%s: %d dead letters requeued; farmwatch webhooks list shows them leave as they are delivered\n", args[0], resp.GetRequeued())
			return nil
		},
	}
	cmd.Flags().StringSliceVar(&eventArgs, "event", nil, "the event id of a dead letter (repeatable)")
	cmd.Flags().BoolVar(&all, "all", false, "every dead letter of the output")
	cmd.MarkFlagsMutuallyExclusive("event", "all")
	return cmd
}
