package main

import (
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
			fmt.Fprintf(cmd.ErrOrStderr(), "token for hire %s, valid until %s; it is shown only once\n", resp.GetHireId(), ts(resp.GetExpiresAt()))
			return nil
		},
	}
	create.Flags().StringVar(&hire, "hire", "", "hire id the laptop is issued to")
	create.Flags().DurationVar(&ttl, "ttl", 0, "lifetime (default: the collector's, 72h)")
	addOutputFlag(create, &output)
	cmd.AddCommand(create)
	return cmd
}
