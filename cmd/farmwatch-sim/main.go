// Command farmwatch-sim simulates a fleet of onboarding laptops against a
// running collector, speaking the real agent protocol: honest remote hires in
// several US cities, a laptop farm, a hire behind a VPN and a hire whose
// remote-access tool is driven from abroad.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"sort"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/farmwatch/farmwatch/collector/adminconn"
	"github.com/farmwatch/farmwatch/geo/geotest"
	"github.com/farmwatch/farmwatch/sim"
)

func main() {
	root := &cobra.Command{Use: "farmwatch-sim", Short: "Simulate a fleet of farmwatch agents", SilenceUsage: true, SilenceErrors: true}
	root.CompletionOptions.DisableDefaultCmd = true
	root.AddCommand(newRunCmd(), newGeoDBCmd(), newApplicantsCmd())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "farmwatch-sim:", err)
		os.Exit(1)
	}
}

func newGeoDBCmd() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "geodb --out DIR",
		Short: "Write the small demo City and ASN databases (GeoLite2 schema, DB-IP names) the simulated fleet lives in",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := os.MkdirAll(out, 0o755); err != nil {
				return err
			}
			city, asn, err := geotest.WriteDatabases(out, geotest.DemoNetworks())
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s\n%s\n", city, asn)
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "directory to write into")
	cmd.MarkFlagRequired("out")
	return cmd
}

type label struct {
	DeviceID string `json:"device_id"`
	HireID   string `json:"hire_id"`
	Scenario string `json:"scenario"`
	Expected bool   `json:"expected_alert"`
	PublicIP string `json:"public_ip"`
}

func newRunCmd() *cobra.Command {
	var o adminconn.Options
	var devices, rounds, batch, concurrency, days int
	var seed uint64
	var interval time.Duration
	var labels string
	cmd := &cobra.Command{
		Use:   "run --data DIR [--devices N] [--rounds R]",
		Short: "Register hires, enroll the fleet with one-time tokens, and send reports",
		Long: `Register hires, enroll the fleet with one-time tokens, and send reports.

Each simulated laptop is placed at its public IP the way a pass-through load
balancer places a client: a PROXY protocol v2 header at the start of each of
its connections. The collector believes the header only from its trusted
proxies, so it must trust the address this simulator connects from:
farmwatch serve --trusted-proxy 127.0.0.1 (scripts/demo.sh does).`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			admin, closeAdmin, err := adminconn.Dial(o)
			if err != nil {
				return err
			}
			defer closeAdmin()
			addr, err := o.Addr()
			if err != nil {
				return err
			}
			fp, err := o.CAFingerprint()
			if err != nil {
				return err
			}
			fleet := sim.Plan(devices, seed)
			defer fleet.Close()
			if err := fleet.Register(ctx, admin); err != nil {
				return err
			}
			start := time.Now()
			if err := fleet.Enroll(ctx, addr, fp, concurrency); err != nil {
				if status.Code(err) == codes.Unavailable {
					return fmt.Errorf("%w (does the collector trust this machine's address as a proxy? farmwatch serve --trusted-proxy 127.0.0.1)", err)
				}
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "enrolled %d simulated devices in %s\n", len(fleet.Devices), time.Since(start).Round(time.Millisecond))
			var total, acked int
			var lats []time.Duration
			start = time.Now()
			// History first: each device delivers the hourly reports of past
			// days as an agent that spooled them would.
			first := time.Now().UTC().Truncate(24 * time.Hour).Add(-time.Duration(days) * 24 * time.Hour)
			for day := range days {
				if err := fleet.Moves(ctx, admin, day); err != nil {
					return err
				}
				st, err := fleet.SendDay(ctx, day, first.Add(time.Duration(day)*24*time.Hour), concurrency)
				if err != nil {
					return err
				}
				total += st.Reports
				acked += st.Acked
				lats = append(lats, st.Latencies...)
			}
			for r := range rounds {
				if r > 0 && interval > 0 {
					select {
					case <-ctx.Done():
						return ctx.Err()
					case <-time.After(interval):
					}
				}
				st, err := fleet.Send(ctx, time.Now(), batch, concurrency)
				if err != nil {
					return err
				}
				total += st.Reports
				acked += st.Acked
				lats = append(lats, st.Latencies...)
			}
			el := time.Since(start)
			fmt.Fprintf(cmd.OutOrStdout(), "sent %d reports, %d acknowledged, in %s (%.0f reports/s; call latency p50 %s, p99 %s)\n",
				total, acked, el.Round(time.Millisecond), float64(total)/el.Seconds(), pct(lats, 50), pct(lats, 99))
			printMix(cmd, fleet)
			if labels != "" {
				var ls []label
				for _, d := range fleet.Devices {
					ls = append(ls, label{d.ID(), d.Hire.GetId(), d.Scenario, d.Expected, d.PublicIP.String()})
				}
				b, _ := json.MarshalIndent(ls, "", "  ")
				if err := os.WriteFile(labels, b, 0o644); err != nil {
					return err
				}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Data, "data", os.Getenv("FARMWATCH_DATA"), "collector data dir (address and admin certificate)")
	f.StringVar(&o.Server, "server", "", "collector address (default: from DATA/collector.addr)")
	f.StringVar(&o.CA, "ca", "", "collector CA (default DATA/tls/ca.pem)")
	f.StringVar(&o.Cert, "cert", "", "admin certificate (default DATA/tls/admin.pem)")
	f.StringVar(&o.Key, "key", "", "admin key (default DATA/tls/admin-key.pem)")
	f.IntVar(&devices, "devices", 24, "number of simulated laptops")
	f.IntVar(&rounds, "rounds", 2, "report rounds at the current time")
	f.IntVar(&days, "days", 0, "first deliver this many past days of hourly reports per device")
	f.IntVar(&batch, "batch", 1, "reports per device per call")
	f.IntVar(&concurrency, "concurrency", 32, "devices sending at once")
	f.Uint64Var(&seed, "seed", 1, "random seed of the fleet layout")
	f.DurationVar(&interval, "interval", 0, "pause between rounds")
	f.StringVar(&labels, "labels", "", "write each device's scenario and expected verdict to this JSON file")
	return cmd
}

func printMix(cmd *cobra.Command, fleet *sim.Fleet) {
	count := map[string]int{}
	for _, d := range fleet.Devices {
		count[d.Scenario]++
	}
	names := make([]string, 0, len(count))
	for k := range count {
		names = append(names, k)
	}
	sort.Strings(names)
	tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SCENARIO\tDEVICES")
	for _, n := range names {
		fmt.Fprintf(tw, "%s\t%d\n", n, count[n])
	}
	tw.Flush()
}

func pct(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := (len(s)*p + 99) / 100
	return s[min(max(i-1, 0), len(s)-1)].Round(100 * time.Microsecond)
}
