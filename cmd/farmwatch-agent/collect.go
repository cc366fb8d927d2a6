package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/farmwatch/farmwatch/agent/collect"
)

func newCollectCmd() *cobra.Command {
	var asJSON bool
	var only []string
	var root string
	cmd := &cobra.Command{
		Use:   "collect",
		Short: "Collect once and print the report that would be sent; sends nothing",
		RunE: func(cmd *cobra.Command, _ []string) error {
			env := collect.HostEnv()
			if root != "" {
				env.Root = root
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), time.Minute)
			defer cancel()
			r := collect.Collect(ctx, env, collect.Options{Only: only})
			if asJSON {
				b, err := protojson.MarshalOptions{Multiline: true, Indent: "  ", UseProtoNames: true}.Marshal(r)
				if err != nil {
					return err
				}
				fmt.Fprintln(cmd.OutOrStdout(), string(b))
				return nil
			}
			fmt.Fprintln(cmd.OutOrStdout(), protojson.Format(r))
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON (the exact fields sent)")
	cmd.Flags().StringSliceVar(&only, "only", nil, "run only these collectors: "+fmt.Sprint(collect.Names()))
	cmd.Flags().StringVar(&root, "root", "", "read host files under this root instead of / (for fixtures)")
	cmd.Flags().MarkHidden("root")
	return cmd
}
