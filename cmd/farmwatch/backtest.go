package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/farmwatch/farmwatch/collector/analysis"
	"github.com/farmwatch/farmwatch/collector/store"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// backtestTimeout is a backtest's time limit when --timeout is not given:
// it replays every stored report, which takes far longer than a list call.
const backtestTimeout = time.Hour

func newBacktestCmd() *cobra.Command {
	var configPath, sinceText, untilText, storePath, output string
	var interval time.Duration
	cmd := &cobra.Command{
		Use:   "backtest [--config FILE] [--since T] [--until T] [--store FILE]",
		Short: "Replay the stored reports with an analysis config: the alerts it would have raised, against the reviewers' verdicts",
		Long: `Replays the stored reports, in the order the collector received them, through the
analysis with the config in FILE (YAML over the defaults, like serve --config) into a
scratch store, and prints the alerts that config would have raised, with precision and
recall against the verdicts reviewers gave. Run it before model fit --apply, or before
changing the collector's config. It changes nothing; a viewer certificate is enough.

Without --config the collector's own config is replayed (the defaults with --store).
--since and --until (RFC 3339, or a date YYYY-MM-DD meaning its midnight UTC) bound
the reports replayed by the time they were received, [since, until).

--store FILE replays a file offline, with no collector: a backup made by
farmwatch backup, or the data dir of a stopped collector. It is opened read-only, and
the scratch store is made in the temporary dir ($TMPDIR).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			since, err := parseWhen("--since", sinceText)
			if err != nil {
				return err
			}
			until, err := parseWhen("--until", untilText)
			if err != nil {
				return err
			}
			if !since.IsZero() && !until.IsZero() && !since.Before(until) {
				return usagef("--since %s is not before --until %s", sinceText, untilText)
			}
			var yaml []byte
			if configPath != "" {
				if yaml, err = os.ReadFile(configPath); err != nil {
					return fmt.Errorf("--config: %w", err)
				}
				if _, err := analysis.ParseConfig(yaml); err != nil {
					return fmt.Errorf("--config %s: %w", configPath, err)
				}
			}
			var res *pb.BacktestResponse
			if storePath != "" {
				res, err = backtestOffline(cmd.Context(), storePath, yaml, interval, since, until)
			} else {
				if cmd.Flags().Changed("report-interval") {
					return usagef("--report-interval is for --store: a collector replays with its own interval")
				}
				res, err = backtestOnline(cmd, yaml, since, until)
			}
			if err != nil {
				return err
			}
			if output == "json" {
				return printJSON(cmd.OutOrStdout(), res)
			}
			return printBacktest(cmd.OutOrStdout(), res)
		},
	}
	f := cmd.Flags()
	f.StringVar(&configPath, "config", "", "analysis config to replay with (default: the collector's own)")
	f.StringVar(&sinceText, "since", "", "replay reports received at or after this time (RFC 3339 or YYYY-MM-DD)")
	f.StringVar(&untilText, "until", "", "replay reports received before this time (RFC 3339 or YYYY-MM-DD)")
	f.StringVar(&storePath, "store", "", "replay this store file offline (a backup, or a stopped collector's data dir)")
	f.DurationVar(&interval, "report-interval", 5*time.Minute, "with --store: the collector's --report-interval, in which silence counts")
	addOutputFlag(cmd, &output)
	return cmd
}

// parseWhen reads a time given as RFC 3339 or as a date (its midnight UTC).
func parseWhen(flag, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	return time.Time{}, usagef("%s %q: want RFC 3339 (2026-11-02T09:00:00Z) or a date (2026-11-02)", flag, s)
}

func backtestOffline(ctx context.Context, path string, yaml []byte, interval time.Duration, since, until time.Time) (*pb.BacktestResponse, error) {
	if interval <= 0 {
		return nil, fmt.Errorf("--report-interval %s: want a positive duration", interval)
	}
	cfg, err := analysis.ParseConfig(yaml)
	if err != nil {
		return nil, err
	}
	cfg.ReportInterval = interval
	src, err := store.OpenReadOnly(path)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	// Interrupted, the replay still removes its scratch store.
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	return analysis.Backtest(ctx, src, analysis.BacktestOptions{Config: cfg, Since: since, Until: until})
}

func backtestOnline(cmd *cobra.Command, yaml []byte, since, until time.Time) (*pb.BacktestResponse, error) {
	client, closeFn, err := adminClient()
	if err != nil {
		return nil, err
	}
	defer closeFn()
	timeout := backtestTimeout
	if f := cmd.Flag("timeout"); f != nil && f.Changed {
		timeout = conn.timeout
	}
	ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
	defer cancel()
	req := &pb.BacktestRequest{ConfigYaml: yaml}
	if !since.IsZero() {
		req.Since = timestamppb.New(since)
	}
	if !until.IsZero() {
		req.Until = timestamppb.New(until)
	}
	// Every alert of the replay comes back in one message.
	res, err := client.Backtest(ctx, req, grpc.MaxCallRecvMsgSize(1<<30))
	if err != nil {
		if st, ok := status.FromError(err); ok {
			return nil, fmt.Errorf("%s: %s", strings.ToLower(st.Code().String()), st.Message())
		}
		return nil, err
	}
	return res, nil
}

func printBacktest(w io.Writer, res *pb.BacktestResponse) error {
	fmt.Fprintf(w, "Replayed %d reports of %d devices, received %s to %s.\n", res.GetReports(), res.GetDevices(),
		ts(res.GetFirstReport()), ts(res.GetLastReport()))
	fmt.Fprintf(w, "Verdicts in the store: %d devices confirmed, %d false-positive.\n", res.GetConfirmedDevices(), res.GetFalsePositiveDevices())
	fmt.Fprintf(w, "At review (peak score %.2f or more): %d of the confirmed, %d of the false-positive; %d devices nobody judged.\n",
		res.GetReviewThreshold(), res.GetTruePositives(), res.GetFalsePositives(), res.GetUnjudgedAtReview())
	fmt.Fprintf(w, "Precision %s (%d true, %d false positives), recall %s (%d missed).\n",
		ratio(res.GetPrecision(), res.GetTruePositives()+res.GetFalsePositives()), res.GetTruePositives(), res.GetFalsePositives(),
		ratio(res.GetRecall(), res.GetTruePositives()+res.GetFalseNegatives()), res.GetFalseNegatives())
	for _, warn := range res.GetWarnings() {
		fmt.Fprintf(w, "Warning: %s\n", warn)
	}
	if len(res.GetAlerts()) == 0 {
		fmt.Fprintln(w, "The replay raised no alert.")
		return nil
	}
	fmt.Fprintf(w, "\nAlerts the replay raised, highest peak first (%d):\n", len(res.GetAlerts()))
	tw := newTable(w, "ALERT", "KIND", "DEVICES", "SCORE", "PEAK", "SUMMARY").shrink("SUMMARY", "DEVICES")
	for _, a := range res.GetAlerts() {
		row(tw, a.GetId(), a.GetKind(), alertDeviceList(a), fmt.Sprintf("%.2f", a.GetScore()), fmt.Sprintf("%.2f", a.GetPeakScore()), a.GetSummary())
	}
	return tw.Flush()
}

// ratio is a precision or recall, "n/a" when nothing was counted to make it.
func ratio(v float64, of uint32) string {
	if of == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2f", v)
}

// alertDeviceList is a device alert's device, or a farm's first members.
func alertDeviceList(a *pb.Alert) string {
	if a.GetDeviceId() != "" {
		return a.GetDeviceId()
	}
	m := a.GetMemberDevices()
	if len(m) == 0 {
		return "-"
	}
	if len(m) > 3 {
		return fmt.Sprintf("%s (+%d more)", strings.Join(m[:3], ","), len(m)-3)
	}
	return strings.Join(m, ",")
}
