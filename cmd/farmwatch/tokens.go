package main

import (
	"cmp"
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

func newTokensCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "tokens", Short: "One-time enrollment tokens for new laptops"}
	var hire, output string
	var ttl time.Duration
	create := &cobra.Command{
		Use:   "create --hire ID [--ttl 72h]",
		Short: "Create a one-time enrollment token bound to a hire (shown once)",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			if hire == "" {
				return usagef("--hire is required")
			}
			resp, err := call(cmd, func(ctx context.Context, c pb.AdminServiceClient) (*pb.CreateTokenResponse, error) {
				return c.CreateToken(ctx, &pb.CreateTokenRequest{HireId: hire, TtlSeconds: uint32(ttl / time.Second)})
			})
			if err != nil {
				return err
			}
			if output == "json" {
				return printJSON(cmd.OutOrStdout(), resp)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s\n", resp.GetToken())
			fmt.Fprintf(cmd.ErrOrStderr(), "token %s for hire %s, valid until %s; it is shown only once\n", resp.GetId(), resp.GetHireId(), ts(resp.GetExpiresAt()))
			return nil
		},
	}
	create.Flags().StringVar(&hire, "hire", "", "hire id the laptop is issued to")
	create.Flags().DurationVar(&ttl, "ttl", 0, "lifetime (default: the collector's, 72h)")
	addOutputFlag(create, &output)
	cmd.AddCommand(create, newTokensListCmd(), newTokensRevokeCmd())
	return cmd
}

func newTokensListCmd() *cobra.Command {
	var hire, output string
	cmd := &cobra.Command{
		Use:   "list [--hire ID]",
		Short: "Enrollment tokens and their state (unused, used, expired, revoked); never the token itself",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			resp, err := call(cmd, func(ctx context.Context, c pb.AdminServiceClient) (*pb.ListTokensResponse, error) {
				return c.ListTokens(ctx, &pb.ListTokensRequest{HireId: hire})
			})
			if err != nil {
				return err
			}
			if output == "json" {
				return printListJSON(cmd.OutOrStdout(), resp, "tokens", len(resp.GetTokens()))
			}
			tw := newTable(cmd.OutOrStdout(), "ID", "HIRE", "CREATED", "EXPIRES", "STATE", "DEVICE")
			for _, t := range resp.GetTokens() {
				state := t.GetState()
				if t.GetRevokedAt() != nil {
					state += " by " + t.GetRevokedBy()
				}
				row(tw, t.GetId(), t.GetHireId(), ts(t.GetCreatedAt()), ts(t.GetExpiresAt()), state, cmp.Or(t.GetDeviceId(), "-"))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&hire, "hire", "", "only the tokens of this hire")
	addOutputFlag(cmd, &output)
	return cmd
}

func newTokensRevokeCmd() *cobra.Command {
	var note string
	cmd := &cobra.Command{
		Use:   "revoke TOKEN-ID [--note TEXT]",
		Short: "Revoke an unused token by the id `tokens list` shows: enrolling with it fails from now on (reviewer role)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			t, err := call(cmd, func(ctx context.Context, c pb.AdminServiceClient) (*pb.TokenInfo, error) {
				return c.RevokeToken(ctx, &pb.RevokeTokenRequest{Id: args[0], Note: note})
			})
			if err != nil {
				return err
			}
			printf(cmd.OutOrStdout(), "revoked token %s of hire %s\n", t.GetId(), t.GetHireId())
			return nil
		},
	}
	cmd.Flags().StringVar(&note, "note", "", "why (kept in the audit trail)")
	return cmd
}
