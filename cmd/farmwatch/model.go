package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"
	"google.golang.org/grpc/codes"

	"github.com/farmwatch/farmwatch/collector/adminconn"
	"github.com/farmwatch/farmwatch/collector/analysis"
	"github.com/farmwatch/farmwatch/collector/server"
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
		Long: fmt.Sprintf(`Re-estimate the prior and the rule weights from the verdicts of resolved alerts
(L2-regularised logistic regression, pulled towards the weights in use), and show
the change and precision and recall at the review threshold before and after.

Without --apply nothing is written. --apply (reviewer role) writes the weights
into the collector's analysis config and uses them at once; it refuses until
there are at least %d verdicts of each kind, confirmed and false-positive, and
writes nothing when the fit gives the weights in use.`, server.MinVerdictsToApply),
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
			printFit(cmd.OutOrStdout(), output, apply, resp)
			return nil
		},
	}
	fit.Flags().BoolVar(&apply, "apply", false, "write the new weights to the collector's analysis config and use them")
	fit.Flags().Float64Var(&l2, "l2", 1.0, "regularisation: pull towards the current weights (higher = smaller changes)")
	addOutputFlag(fit, &output)

	cmd.AddCommand(fit, newModelConfigCmd(), newBacktestCmd())
	return cmd
}

// printFit prints a fit as a table and says, truthfully, what happened to
// the collector's config: applied, unchanged, or left for --apply.
func printFit(w io.Writer, output string, apply bool, resp *pb.FitModelResponse) {
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
	switch {
	case resp.GetApplied():
		printf(w, "Applied: written to %s and in use now.\n", resp.GetConfigPath())
	case !fitChanged(resp):
		printf(w, "Nothing changed: the fit gives the weights in use; %s is left as it is.\n", resp.GetConfigPath())
	case apply:
		printf(w, "Not applied; %s is left as it is.\n", resp.GetConfigPath())
	default:
		printf(w, "Dry run: nothing written. Run with --apply to write these weights to %s.\n", resp.GetConfigPath())
	}
}

// fitChanged tells whether a fit moves the prior or a weight at the
// precision the config file is written with (three decimals).
func fitChanged(resp *pb.FitModelResponse) bool {
	differ := func(a, b float64) bool { return fmt.Sprintf("%.3f", a) != fmt.Sprintf("%.3f", b) }
	if differ(resp.GetOldPrior(), resp.GetNewPrior()) {
		return true
	}
	for _, r := range resp.GetWeights() {
		if differ(r.GetOldWeight(), r.GetNewWeight()) {
			return true
		}
	}
	return false
}

func newModelConfigCmd() *cobra.Command {
	var output, file string
	var defaults bool
	cmd := &cobra.Command{
		Use:   "config [-o table|yaml|json] [--defaults | --config FILE]",
		Short: "Show the analysis config in effect (weights, thresholds, allowlists)",
		Long: `Show the analysis config in effect: the collector's, asked over the admin API.
When no collector answers on this host (no --server, and none running with
--data DIR), it is read as serve would read it: the defaults with DIR/analysis.yaml
over them. --config FILE reads FILE that way instead (serve --config FILE);
--defaults prints the documented defaults with their comments, a starting point
for a config file.

-o table lists one key a line, -o yaml and -o json the whole config.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch output {
			case "table", "wide", "yaml", "json":
			default:
				return usagef("--output %q: want table, yaml or json", output)
			}
			if defaults {
				if file != "" {
					return usagef("--defaults and --config: give one")
				}
				if output != "yaml" && cmd.Flags().Changed("output") {
					return usagef("--defaults prints the commented YAML; it takes no -o %s", output)
				}
				_, err := cmd.OutOrStdout().Write(analysis.DefaultConfigYAML())
				return err
			}
			doc, source, err := configInEffect(cmd, file)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "analysis config in effect: %s\n", source)
			return printConfig(cmd.OutOrStdout(), output, doc)
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table, yaml or json")
	cmd.Flags().StringVar(&file, "config", "", "read this config file over the defaults, as serve --config FILE would")
	cmd.Flags().BoolVar(&defaults, "defaults", false, "print the documented defaults with their comments")
	return cmd
}

// configInEffect is the collector's config as YAML, and where it came from.
func configInEffect(cmd *cobra.Command, file string) ([]byte, string, error) {
	if file == "" {
		opts := adminconn.Options{Data: conn.data, Server: conn.server}
		_, addrErr := opts.Addr()
		resp, err := call(cmd, func(ctx context.Context, c pb.AdminServiceClient) (*pb.GetConfigResponse, error) {
			return c.GetConfig(ctx, &pb.GetConfigRequest{})
		})
		if err == nil {
			return resp.GetConfigYaml(), fmt.Sprintf("the collector's (%s over the defaults)", resp.GetConfigPath()), nil
		}
		// Only a local data dir with no collector answering falls back to the file.
		if conn.server != "" || (addrErr == nil && !isUnavailable(err)) {
			return nil, "", err
		}
		file = filepath.Join(conn.data, server.AnalysisConfigFile)
	}
	cfg, err := analysis.LoadConfig(file)
	if err != nil {
		return nil, "", err
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2) // as the collector's answer and the documented defaults
	if err := enc.Encode(cfg); err != nil {
		return nil, "", fmt.Errorf("config as YAML: %w", err)
	}
	b := buf.Bytes()
	return b, fmt.Sprintf("%s over the defaults, read as serve would (no collector asked)", file), nil
}

// isUnavailable tells a collector that does not answer from one that refused.
func isUnavailable(err error) bool {
	return strings.HasPrefix(err.Error(), strings.ToLower(codes.Unavailable.String())+":")
}

// printConfig prints a config given as YAML: as it is, as JSON, or as a
// table of dotted keys.
func printConfig(w io.Writer, output string, doc []byte) error {
	if output == "yaml" {
		_, err := w.Write(doc)
		return err
	}
	var v any
	if err := yaml.Unmarshal(doc, &v); err != nil {
		return fmt.Errorf("config YAML: %w", err)
	}
	if output == "json" {
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return fmt.Errorf("config as JSON: %w", err)
		}
		_, err = fmt.Fprintln(w, string(b))
		return err
	}
	tw := newTableFor(w, output, "KEY", "VALUE")
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch v := v.(type) {
		case map[string]any:
			keys := make([]string, 0, len(v))
			for k := range v {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				walk(strings.TrimPrefix(prefix+"."+k, "."), v[k])
			}
		case []any:
			parts := make([]string, len(v))
			for i, e := range v {
				parts[i] = fmt.Sprint(e)
			}
			row(tw, prefix, "["+strings.Join(parts, ", ")+"]")
		default:
			row(tw, prefix, fmt.Sprint(v))
		}
	}
	walk("", v)
	return tw.Flush()
}
