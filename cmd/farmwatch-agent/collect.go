package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/farmwatch/farmwatch/agent/collect"
	"github.com/farmwatch/farmwatch/internal/cli"
)

func newCollectCmd() *cobra.Command {
	var asJSON bool
	var only []string
	var root, output string
	cmd := &cobra.Command{
		Use:   "collect [-o table|json] [--only NAME,...]",
		Short: "Collect once and print the report that would be sent; sends nothing",
		Long: `Collect once and print the report that would be sent; nothing is sent.
-o json (or --json) prints the exact JSON the collector receives; the table
lists the same fields, one per line, named as in the JSON (nested fields
joined with dots, list items numbered).`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if asJSON {
				if cmd.Flags().Changed("output") && output != "json" {
					return cli.Usagef("--json is -o json; it cannot go with -o %s", output)
				}
				output = "json"
			}
			if output != "table" && output != "json" {
				return cli.Usagef("--output %q: want table or json", output)
			}
			names := collect.Names()
			for _, n := range only {
				if !slices.Contains(names, n) {
					return cli.Usagef("--only %q: no such collector; the collectors are %s", n, strings.Join(names, ", "))
				}
			}
			env := collect.HostEnv()
			if root != "" {
				env.Root = root
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), time.Minute)
			defer cancel()
			r := collect.Collect(ctx, env, collect.Options{Only: only})
			b, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(r)
			if err != nil {
				return err
			}
			if output == "json" {
				var out bytes.Buffer
				// protojson varies its whitespace on purpose; one stable form for scripts.
				if err := json.Indent(&out, b, "", "  "); err != nil {
					return err
				}
				fmt.Fprintln(cmd.OutOrStdout(), out.String())
				return nil
			}
			return printFields(cmd.OutOrStdout(), b)
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table (one field a line, JSON names) or json (the exact fields sent)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "the same as -o json")
	cmd.Flags().StringSliceVar(&only, "only", nil, "run only these collectors: "+strings.Join(collect.Names(), ", "))
	cmd.Flags().StringVar(&root, "root", "", "read host files under this root instead of / (for fixtures)")
	cmd.Flags().MarkHidden("root")
	return cmd
}

// printFields prints a JSON document as FIELD VALUE lines, the field named by
// its JSON path (network.gateway_mac, remote_access.tools[0].name), so the
// table and the JSON speak the same names.
func printFields(w io.Writer, doc []byte) error {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "FIELD\tVALUE")
	var walk func(path string) error
	walk = func(path string) error {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		switch tok {
		case json.Delim('{'):
			for dec.More() {
				k, err := dec.Token()
				if err != nil {
					return err
				}
				key, _ := k.(string)
				if path != "" {
					key = path + "." + key
				}
				if err := walk(key); err != nil {
					return err
				}
			}
			_, err = dec.Token()
			return err
		case json.Delim('['):
			for i := 0; dec.More(); i++ {
				if err := walk(fmt.Sprintf("%s[%d]", path, i)); err != nil {
					return err
				}
			}
			_, err = dec.Token()
			return err
		}
		fmt.Fprintf(tw, "%s\t%s\n", path, strings.NewReplacer("\t", `\t`, "\n", `\n`, "\r", `\r`).Replace(fmt.Sprint(tok)))
		return nil
	}
	if err := walk(""); err != nil {
		return fmt.Errorf("print report fields: %w", err)
	}
	return tw.Flush()
}
