package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/farmwatch/farmwatch/collector/adminconn"
	"github.com/farmwatch/farmwatch/collector/server"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

func newAlertsCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "alerts", Short: "Alerts for reviewers, highest score first"}
	cmd.AddCommand(newAlertsListCmd(), newAlertsShowCmd(), newAlertsAckCmd(), newAlertsResolveCmd(), newAlertsWatchCmd())
	return cmd
}

func newAlertsListCmd() *cobra.Command {
	var statusFlag, device, output, sortBy string
	var minScore, minPeak float64
	cmd := &cobra.Command{
		Use:   "list [--status open] [--min-score X] [--min-peak X] [--sort peak|current|newest]",
		Short: "List alerts: the reviewers' queue, highest peak first",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			switch statusFlag {
			case "", "open", "acknowledged", "resolved":
			default:
				return usagef("--status %q: want open, acknowledged or resolved", statusFlag)
			}
			switch sortBy {
			case "peak", "current", "newest":
			default:
				return usagef("--sort %q: want peak, current or newest", sortBy)
			}
			if err := checkScore("--min-score", minScore); err != nil {
				return err
			}
			if err := checkScore("--min-peak", minPeak); err != nil {
				return err
			}
			resp, err := call(cmd, func(ctx context.Context, c pb.AdminServiceClient) (*pb.ListAlertsResponse, error) {
				return c.ListAlerts(ctx, &pb.ListAlertsRequest{Status: statusFlag, MinScore: minScore, MinPeak: minPeak,
					DeviceId: device, Sort: sortBy})
			})
			if err != nil {
				return err
			}
			if output == "json" {
				return printJSON(cmd.OutOrStdout(), resp)
			}
			tw := newTableFor(cmd.OutOrStdout(), output, "ALERT", "KIND", "STATUS", "PEAK", "NOW", "DEVICE", "HIRE", "UPDATED", "SUMMARY").shrink("SUMMARY")
			for _, a := range resp.GetAlerts() {
				row(tw, a.GetId(), a.GetKind(), a.GetStatus(), fmt.Sprintf("%.2f", max(a.GetPeakScore(), a.GetScore())),
					fmt.Sprintf("%.2f", a.GetScore()), orDash(alertDevice(a)), orDash(a.GetHireId()), when(a.GetUpdatedAt()), a.GetSummary())
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&statusFlag, "status", "", "open, acknowledged or resolved (default: all)")
	cmd.Flags().Float64Var(&minScore, "min-score", 0, "only alerts scoring at least this now (0-1)")
	cmd.Flags().Float64Var(&minPeak, "min-peak", 0, "only alerts whose peak score reached this (0-1); 0.5 is the reviewers' queue")
	cmd.Flags().StringVar(&sortBy, "sort", "peak", "peak (the queue: highest peak first), current (highest score now) or newest")
	cmd.Flags().StringVar(&device, "device", "", "only this device's alerts")
	addOutputFlag(cmd, &output)
	return cmd
}

func newAlertsShowCmd() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "show ID",
		Short: "Show an alert with every sign and its contribution",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			var header metadata.MD
			a, err := call(cmd, func(ctx context.Context, c pb.AdminServiceClient) (*pb.Alert, error) {
				return c.GetAlert(ctx, &pb.GetAlertRequest{Id: args[0]}, grpc.Header(&header))
			})
			if err != nil {
				return err
			}
			attribution := geoAttribution(header)
			if output == "json" {
				return printJSONAttributed(cmd.OutOrStdout(), a, attribution)
			}
			printAlert(cmd, a)
			if attribution != "" {
				fmt.Fprintln(cmd.OutOrStdout())
			}
			return geoWriteAttribution(cmd.OutOrStdout(), attribution)
		},
	}
	addOutputFlag(cmd, &output)
	return cmd
}

func printAlert(cmd *cobra.Command, a *pb.Alert) {
	w := cmd.OutOrStdout()
	printf(w, "Alert %s (%s, %s): score %.2f now, peak %.2f", a.GetId(), a.GetKind(), a.GetStatus(), a.GetScore(),
		max(a.GetPeakScore(), a.GetScore()))
	if a.GetPeakAt() != nil {
		printf(w, " at %s", ts(a.GetPeakAt()))
	}
	printf(w, "\n  %s\n", a.GetSummary())
	if a.GetKind() == "farm" {
		printf(w, "  cluster %s: %d devices of %d hires; opened %s, updated %s\n", a.GetClusterId(), len(a.GetMemberDevices()),
			len(a.GetMemberHires()), ts(a.GetCreatedAt()), ts(a.GetUpdatedAt()))
		var devs []string
		for _, d := range a.GetMemberDevices() {
			if s, ok := a.GetMemberScores()[d]; ok {
				d = fmt.Sprintf("%s (device score %.2f)", d, s)
			}
			devs = append(devs, d)
		}
		printf(w, "  devices: %s\n  hires:   %s\n", strings.Join(devs, ", "), strings.Join(a.GetMemberHires(), ", "))
		printf(w, "  The farm's score is made by its own lines below; members' device scores are shown, not added.\n")
	} else if a.GetKind() == "applicant" {
		printf(w, "  applicant %s (farmwatch applicants show %s); opened %s, updated %s\n", a.GetApplicantId(), a.GetApplicantId(),
			ts(a.GetCreatedAt()), ts(a.GetUpdatedAt()))
		printf(w, "  related applicants: %s\n", orDash(strings.Join(a.GetRelatedApplicants(), ", ")))
	} else {
		printf(w, "  device %s, hire %s; opened %s, updated %s\n", orDash(a.GetDeviceId()), orDash(a.GetHireId()),
			ts(a.GetCreatedAt()), ts(a.GetUpdatedAt()))
		if a.GetClusterId() != "" {
			printf(w, "  in cluster %s\n", a.GetClusterId())
		}
	}
	if a.GetStatus() == "resolved" {
		printf(w, "  resolved %s by %s at %s: %s\n", a.GetVerdict(), a.GetResolvedBy(), ts(a.GetResolvedAt()), a.GetNote())
	} else if a.GetNote() != "" {
		printf(w, "  note: %s\n", a.GetNote())
	}
	fmt.Fprintln(w, "  Evidence (log-odds added to the prior now, and at most):")
	printEvidence(w, a.GetEvidence())
}

// printEvidence prints evidence lines as a reviewer reads them: what each
// adds now against its peak, its class, when it was first and last seen, in
// how many reports, how it fades, and its sentence.
func printEvidence(w io.Writer, lines []*pb.Evidence) {
	ev := append([]*pb.Evidence(nil), lines...)
	sort.SliceStable(ev, func(i, j int) bool {
		if ev[i].GetWeight() != ev[j].GetWeight() {
			return ev[i].GetWeight() > ev[j].GetWeight()
		}
		return ev[i].GetPeakWeight() > ev[j].GetPeakWeight()
	})
	for _, e := range ev {
		peak := max(e.GetPeakWeight(), e.GetWeight())
		printf(w, "    %+5.2f (peak %+5.2f)  %s", e.GetWeight(), peak, e.GetRule())
		if e.GetClass() != "" {
			printf(w, " [%s]", e.GetClass())
		}
		if e.GetReports() > 0 {
			printf(w, "  %d report(s),", e.GetReports())
		}
		if e.GetFirstSeen() != nil {
			printf(w, "  first %s, last %s", ts(e.GetFirstSeen()), ts(e.GetObservedAt()))
		}
		if e.GetWeight() == 0 && peak > 0 {
			printf(w, "  (faded)")
		}
		fmt.Fprintln(w)
		printf(w, "        %s\n", e.GetExplanation())
		if e.GetDecay() != "" {
			printf(w, "        (%s)\n", e.GetDecay())
		}
	}
}

func newAlertsAckCmd() *cobra.Command {
	var note, output string
	cmd := &cobra.Command{
		Use:   "ack ID [--note TEXT]",
		Short: "Acknowledge an alert: someone is looking at it",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			a, err := call(cmd, func(ctx context.Context, c pb.AdminServiceClient) (*pb.Alert, error) {
				return c.AckAlert(ctx, &pb.AckAlertRequest{Id: args[0], Note: note})
			})
			if err != nil {
				return err
			}
			if output == "json" {
				return printJSON(cmd.OutOrStdout(), a)
			}
			printf(cmd.OutOrStdout(), "alert %s acknowledged\n", a.GetId())
			return nil
		},
	}
	cmd.Flags().StringVar(&note, "note", "", "what you are doing about it")
	addOutputFlag(cmd, &output)
	return cmd
}

func newAlertsResolveCmd() *cobra.Command {
	var verdict, note, output string
	cmd := &cobra.Command{
		Use:   "resolve ID --verdict confirmed|false-positive --note TEXT",
		Short: "Resolve an alert with a verdict; the verdicts train `farmwatch model fit`",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			if verdict != "confirmed" && verdict != "false-positive" {
				return usagef("--verdict %q: want confirmed or false-positive", verdict)
			}
			if strings.TrimSpace(note) == "" {
				return usagef("--note is required: say why, for the audit trail")
			}
			a, err := call(cmd, func(ctx context.Context, c pb.AdminServiceClient) (*pb.Alert, error) {
				return c.ResolveAlert(ctx, &pb.ResolveAlertRequest{Id: args[0], Verdict: verdict, Note: note})
			})
			if err != nil {
				return err
			}
			if output == "json" {
				return printJSON(cmd.OutOrStdout(), a)
			}
			printf(cmd.OutOrStdout(), "alert %s resolved: %s\n", a.GetId(), a.GetVerdict())
			return nil
		},
	}
	cmd.Flags().StringVar(&verdict, "verdict", "", "confirmed or false-positive")
	cmd.Flags().StringVar(&note, "note", "", "why (kept in the audit trail)")
	addOutputFlag(cmd, &output)
	return cmd
}

// checkScore refuses a score bound outside 0..1, where every score lies: a
// typo like 50 for 0.5 would otherwise list nothing and look like good news.
func checkScore(flag string, v float64) error {
	if !(v >= 0 && v <= 1) {
		return usagef("%s %v: want a score from 0 to 1", flag, v)
	}
	return nil
}

// alertDevice is what the DEVICE column shows: the device, or for an
// applicant alert the applicant, so the one queue names every subject.
func alertDevice(a *pb.Alert) string {
	if a.GetKind() == "applicant" {
		return "applicant " + a.GetApplicantId()
	}
	return a.GetDeviceId()
}

// watchBackoff bounds the wait between reconnections of alerts watch: it
// doubles from min to max, and starts again at min after a connection that
// delivered a stream.
var watchBackoff = struct{ min, max time.Duration }{250 * time.Millisecond, 15 * time.Second}

func newAlertsWatchCmd() *cobra.Command {
	var output string
	var since uint64
	var minScore float64
	var kinds []string
	cmd := &cobra.Command{
		Use:   "watch [--since ID] [--min-score S] [--kind K]... [-o json]",
		Short: "Print alert events as they happen, one line each; reconnects and resumes without a gap",
		Long: `Print the collector's alert events (opened, evidence_changed, review_crossed,
acknowledged, resolved) as they are committed, one line each: time, event id,
type, alert, kind, score, summary; with -o json one JSON object per line.

Without --since it starts from now; --since ID prints the events after ID
first (0: every event kept). When the connection is lost or the collector
restarts, it reconnects with backoff and resumes after the last event it
printed: no event is skipped, none printed twice. It stops on Ctrl-C, or
with an error when the events it needs are no longer kept (retention).`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != "table" && output != "json" {
				return usagef("--output %q: want table or json", output)
			}
			if err := checkScore("--min-score", minScore); err != nil {
				return err
			}
			for _, k := range kinds {
				if k != "device" && k != "farm" && k != "applicant" {
					return usagef("--kind %q: want device, farm or applicant", k)
				}
			}
			req := &pb.WatchAlertsRequest{MinScore: minScore, Kinds: kinds}
			if cmd.Flags().Changed("since") {
				req.After = &since
			}
			o, err := connOptions()
			if err != nil {
				return err
			}
			// Ctrl-C or a service manager's stop ends the watch cleanly.
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return watchAlerts(ctx, o, req, cmd.OutOrStdout(), cmd.ErrOrStderr(), output == "json")
		},
	}
	cmd.Flags().Uint64Var(&since, "since", 0, "print the events after this id first (0: every event kept); default: from now")
	cmd.Flags().Float64Var(&minScore, "min-score", 0, "only events of alerts scoring (or having peaked) at least this (0-1)")
	cmd.Flags().StringArrayVar(&kinds, "kind", nil, "only alerts of this kind: device, farm or applicant (repeatable)")
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table (one line per event) or json (one object per line)")
	return cmd
}

// watchAlerts runs one watch until ctx ends: it streams, prints, and on a
// lost connection or a collector going down reconnects, asking for the
// events after the last one it printed (or, before any, after the position
// the collector said the stream started at).
func watchAlerts(ctx context.Context, o adminconn.Options, req *pb.WatchAlertsRequest, out, errw io.Writer, asJSON bool) error {
	wait := watchBackoff.min
	connected := false // a stream was opened at least once
	for {
		after, opened, err := watchOnce(ctx, o, req, out, asJSON)
		if after != nil {
			req.After = after
		}
		if ctx.Err() != nil {
			return nil // Ctrl-C, or the caller's end
		}
		connected = connected || opened
		if !connected || !reconnectable(err) {
			return plainStatus(err)
		}
		if opened {
			wait = watchBackoff.min
		}
		resume := "from now"
		if req.After != nil {
			resume = fmt.Sprintf("after event %d", req.GetAfter())
		}
		fmt.Fprintf(errw, "farmwatch: alerts watch: %v; reconnecting in %v, resuming %s\n", plainStatus(err), wait.Round(time.Millisecond), resume)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		wait = min(2*wait, watchBackoff.max)
	}
}

// watchOnce is one connection of a watch. It returns the position to
// resume after (nil if it learnt none), whether the stream opened, and why
// it ended.
func watchOnce(ctx context.Context, o adminconn.Options, req *pb.WatchAlertsRequest, out io.Writer, asJSON bool) (*uint64, bool, error) {
	client, closeFn, err := adminconn.Dial(o)
	if err != nil {
		return nil, false, err
	}
	defer closeFn()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := client.WatchAlerts(ctx, req)
	if err != nil {
		return nil, false, err
	}
	var pos *uint64
	header, err := stream.Header()
	if err != nil {
		return nil, false, err
	}
	if v := header.Get(server.WatchAfterHeader); len(v) == 1 {
		if n, err := strconv.ParseUint(v[0], 10, 64); err == nil {
			pos = &n
		}
	}
	for {
		ev, err := stream.Recv()
		if err != nil {
			return pos, true, err
		}
		if err := printAlertEvent(out, ev, asJSON); err != nil {
			return pos, true, &watchWriteError{err}
		}
		id := ev.GetId()
		pos = &id
	}
}

// watchWriteError is a failure to print an event.
type watchWriteError struct{ error }

func (e *watchWriteError) Error() string { return "print an alert event: " + e.error.Error() }

// reconnectable tells whether a watch should reconnect after err: the
// collector went away or is restarting, or the connection broke.
func reconnectable(err error) bool {
	if we := (*watchWriteError)(nil); errors.As(err, &we) {
		return false // stdout is gone: nobody reads the events
	}
	if err == nil || errors.Is(err, io.EOF) {
		return true // the stream ended without a status: a broken connection
	}
	st, ok := status.FromError(err)
	if !ok {
		// Not a call's status: the address file of a collector that is
		// restarting is missing, or a dial failed.
		return true
	}
	switch st.Code() {
	case codes.Unavailable, codes.Aborted, codes.Internal, codes.Unknown, codes.DeadlineExceeded:
		return true
	}
	return false
}

// printAlertEvent prints one event as a line: time, id, type, alert, kind,
// score, summary; or as one JSON object.
func printAlertEvent(w io.Writer, ev *pb.AlertEvent, asJSON bool) error {
	if asJSON {
		b, err := marshalJSON(ev)
		if err != nil {
			return err
		}
		var line bytes.Buffer
		if err := json.Compact(&line, b); err != nil {
			return err
		}
		_, err = fmt.Fprintln(w, string(escapeJSON(line.Bytes())))
		return err
	}
	a := ev.GetAlert()
	actor := ""
	if ev.GetActor() != "" {
		actor = " (by " + ev.GetActor() + ")"
	}
	_, err := fmt.Fprintln(w, terminalSafe(fmt.Sprintf("%s %6d %-16s %-9s %-9s %.2f %s%s", ts(ev.GetAt()), ev.GetId(), ev.GetType(),
		a.GetId(), a.GetKind(), a.GetScore(), a.GetSummary(), actor)))
	return err
}
