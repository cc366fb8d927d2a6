package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

func newDevicesCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "devices", Short: "Enrolled laptops"}
	cmd.AddCommand(newDevicesListCmd(), newDevicesShowCmd(), newDevicesRevokeCmd())
	return cmd
}

func newDevicesListCmd() *cobra.Command {
	var hire, output string
	cmd := &cobra.Command{
		Use:   "list [--hire ID]",
		Short: "List devices with their last location and score",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			var header metadata.MD
			resp, err := call(cmd, func(ctx context.Context, c pb.AdminServiceClient) (*pb.ListDevicesResponse, error) {
				return c.ListDevices(ctx, &pb.ListDevicesRequest{HireId: hire}, grpc.Header(&header))
			})
			if err != nil {
				return err
			}
			attribution := geoAttribution(header)
			if output == "json" {
				return printJSONAttributed(cmd.OutOrStdout(), resp, attribution)
			}
			tw := newTableFor(cmd.OutOrStdout(), output, "DEVICE", "HIRE", "HOSTNAME", "OS", "LAST SEEN", "PUBLIC IP", "WHERE", "REPORTS", "SCORE").shrink("HOSTNAME", "WHERE", "OS")
			for _, d := range resp.GetDevices() {
				row(tw, d.GetId(), d.GetHireId(), orDash(d.GetHostname()), orDash(d.GetOs()), when(d.GetLastSeen()),
					orDash(d.GetLastPublicIp()), orDash(where(d.GetLastCity(), d.GetLastCountry())), d.GetReports(),
					fmt.Sprintf("%.2f", d.GetScore()))
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			return geoWriteAttribution(cmd.OutOrStdout(), attribution)
		},
	}
	cmd.Flags().StringVar(&hire, "hire", "", "only this hire's devices")
	addOutputFlag(cmd, &output)
	return cmd
}

func where(city, country string) string {
	switch {
	case city != "" && country != "":
		return city + ", " + country
	default:
		return city + country
	}
}

func newDevicesShowCmd() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "show ID",
		Short: "Show a device: hire, recent reports with locations and tools, alerts",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			var header metadata.MD
			d, err := call(cmd, func(ctx context.Context, c pb.AdminServiceClient) (*pb.DeviceDetail, error) {
				return c.GetDevice(ctx, &pb.GetDeviceRequest{Id: args[0]}, grpc.Header(&header))
			})
			if err != nil {
				return err
			}
			attribution := geoAttribution(header)
			if output == "json" {
				return printJSONAttributed(cmd.OutOrStdout(), d, attribution)
			}
			w := cmd.OutOrStdout()
			dev := d.GetDevice()
			printf(w, "Device %s (%s, %s, agent %s)\n", dev.GetId(), orDash(dev.GetHostname()), orDash(dev.GetOs()), orDash(dev.GetAgentVersion()))
			printf(w, "  hire:     %s %s, claims %s\n", d.GetHire().GetId(), d.GetHire().GetName(), d.GetHire().GetHome().GetPlace())
			if dev.GetRevokedAt() != nil {
				printf(w, "  REVOKED at %s by %s: %s\n", ts(dev.GetRevokedAt()), dev.GetRevokedBy(), dev.GetRevokeNote())
			}
			printf(w, "  enrolled: %s   last seen: %s   reports: %d   score: %.2f\n",
				ts(dev.GetEnrolledAt()), ts(dev.GetLastSeen()), dev.GetReports(), dev.GetScore())
			if n := dev.GetSpoolGenerations(); n > 0 {
				printf(w, "  spool:    %s, last seq %d, %s\n", spoolEpoch(dev.GetSpoolEpoch()), dev.GetLastSeq(), spoolsSeen(n))
			}
			if rs := d.GetRecentReports(); len(rs) > 0 && rs[0].GetReport().GetHealth() != nil {
				h := rs[0].GetReport().GetHealth()
				printf(w, "  agent:    spooled %d, dropped %d, unspooled %d (latest report: waiting in its spool, dropped by the spool cap, never spooled as the disk was full)\n",
					h.GetSpooled(), h.GetDropped(), h.GetUnspooled())
			}
			if rs := d.GetRecentReports(); len(rs) > 0 && rs[0].GetReport().GetNetwork().GetWifi() != nil {
				printf(w, "  wifi:     %s\n", wifiSummary(rs[0].GetReport().GetNetwork().GetWifi()))
			}
			if dev.GetBudgetDay() != "" || dev.GetRefusedOverBudget() > 0 {
				printf(w, "  budget:   %d bytes of reports charged on %s (UTC); %d refused over the daily budget since enrollment\n",
					dev.GetBudgetBytes(), orDash(dev.GetBudgetDay()), dev.GetRefusedOverBudget())
			}
			if dev.GetClusterId() != "" {
				printf(w, "  cluster:  %s (see `farmwatch clusters show %s`)\n", dev.GetClusterId(), dev.GetClusterId())
			}
			fmt.Fprintln(w, "\nRemembered evidence (log-odds added to the prior now, and at most):")
			if len(d.GetEvidence()) == 0 {
				fmt.Fprintln(w, "  none")
			}
			printEvidence(w, d.GetEvidence())
			fmt.Fprintln(w, "\nTimeline of recent reports (newest first):")
			tw := newTableFor(w, output, "  SEQ", "RECEIVED", "PUBLIC IP", "WHERE", "ASN", "GATEWAY MAC", "TZ", "TOOLS").shrink("TOOLS", "WHERE", "TZ")
			for _, sr := range d.GetRecentReports() {
				r := sr.GetReport()
				var tools []string
				for _, t := range r.GetRemoteAccess().GetTools() {
					tools = append(tools, t.GetName())
				}
				asn := "-"
				if a := sr.GetLocation().GetAsn(); a != 0 {
					asn = fmt.Sprintf("AS%d", a)
				}
				row(tw, fmt.Sprintf("  %d", r.GetSeq()), when(sr.GetReceivedAt()), orDash(sr.GetPublicIp()),
					orDash(where(sr.GetLocation().GetCity(), sr.GetLocation().GetCountry())), asn,
					orDash(r.GetNetwork().GetGatewayMac()), orDash(r.GetLocale().GetTimeZone()), orDash(strings.Join(tools, ", ")))
			}
			tw.Flush()
			fmt.Fprintln(w, "\nAlerts:")
			if len(d.GetAlerts()) == 0 {
				fmt.Fprintln(w, "  none")
			}
			for _, a := range d.GetAlerts() {
				printf(w, "  %s  %s  %-12s score %.2f  %s\n", a.GetId(), a.GetKind(), a.GetStatus(), a.GetScore(), a.GetSummary())
			}
			if attribution != "" {
				fmt.Fprintln(w)
			}
			return geoWriteAttribution(w, attribution)
		},
	}
	addOutputFlag(cmd, &output)
	return cmd
}

func spoolEpoch(epoch uint64) string {
	if epoch == 0 {
		return "no epoch (an agent that predates spool epochs)"
	}
	return fmt.Sprintf("epoch %016x", epoch)
}

func spoolsSeen(n uint32) string {
	if n == 1 {
		return "1 spool seen"
	}
	return fmt.Sprintf("%d spools seen (a reset spool, or a second machine with this identity: see the evidence)", n)
}

func newDevicesRevokeCmd() *cobra.Command {
	var note, output string
	cmd := &cobra.Command{
		Use:   "revoke ID --note TEXT",
		Short: "Revoke a device: its certificate is refused from the next call on",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			if strings.TrimSpace(note) == "" {
				return usagef("--note is required: say why, for the audit trail")
			}
			d, err := call(cmd, func(ctx context.Context, c pb.AdminServiceClient) (*pb.Device, error) {
				return c.RevokeDevice(ctx, &pb.RevokeDeviceRequest{Id: args[0], Note: note})
			})
			if err != nil {
				return err
			}
			if output == "json" {
				return printJSON(cmd.OutOrStdout(), d)
			}
			printf(cmd.OutOrStdout(), "device %s revoked at %s\n", d.GetId(), ts(d.GetRevokedAt()))
			return nil
		},
	}
	cmd.Flags().StringVar(&note, "note", "", "why (kept in the audit trail)")
	addOutputFlag(cmd, &output)
	return cmd
}

// wifiSummary is the latest report's Wi-Fi in one line: the connected BSSID
// (a device's strongest link to others) or why there is none, since a
// device whose OS withholds BSSIDs links by Wi-Fi to nobody. A signal of 0
// is unknown.
func wifiSummary(wf *pb.Wifi) string {
	var parts []string
	switch {
	case wf.GetBssid() != "":
		parts = append(parts, "connected to BSSID "+wf.GetBssid())
	case wf.GetWithheld() == "location_permission":
		parts = append(parts, "BSSIDs withheld: the agent lacks location permission (macOS Location Services, "+
			"Windows 11 24H2 location consent), so this device cannot link to others by Wi-Fi")
	case wf.GetSsid() == "" && wf.GetSignalDbm() == 0:
		parts = append(parts, "not connected")
	default:
		parts = append(parts, "connected, BSSID not reported")
	}
	if wf.GetBssid() != "" || wf.GetSsid() != "" || wf.GetSignalDbm() != 0 {
		if s := wf.GetSignalDbm(); s != 0 {
			parts = append(parts, fmt.Sprintf("signal %d dBm", s))
		} else {
			parts = append(parts, "signal unknown")
		}
	}
	withBSSID := 0
	for _, b := range wf.GetNearby() {
		if b.GetBssid() != "" {
			withBSSID++
		}
	}
	nearby := fmt.Sprintf("%d nearby networks, %d with a BSSID", len(wf.GetNearby()), withBSSID)
	if wf.GetWithheld() == "not_listed" {
		nearby += " (the OS lists nearby networks without BSSIDs)"
	}
	return strings.Join(append(parts, nearby), "; ")
}
