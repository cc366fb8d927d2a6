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

func newClustersCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "clusters", Short: "Devices linked by a shared network: laptop-farm candidates"}
	var farms bool
	var output string
	list := &cobra.Command{
		Use:   "list [--farms]",
		Short: "List clusters, farms first",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			resp, err := call(cmd, func(ctx context.Context, c pb.AdminServiceClient) (*pb.ListClustersResponse, error) {
				return c.ListClusters(ctx, &pb.ListClustersRequest{FarmsOnly: farms})
			})
			if err != nil {
				return err
			}
			if output == "json" {
				return printJSON(cmd.OutOrStdout(), resp)
			}
			tw := newTableFor(cmd.OutOrStdout(), output, "CLUSTER", "FARM", "DEVICES", "HIRES", "OBSERVED AT", "ALERT", "WHY").shrink("WHY", "OBSERVED AT")
			for _, cl := range resp.GetClusters() {
				hires := map[string]bool{}
				for _, m := range cl.GetMembers() {
					hires[m.GetHireId()] = true
				}
				row(tw, cl.GetId(), yesNo(cl.GetFarm()), len(cl.GetMembers()), len(hires), orDash(cl.GetObservedPlace()),
					orDash(cl.GetAlertId()), cl.GetReason())
			}
			return tw.Flush()
		},
	}
	list.Flags().BoolVar(&farms, "farms", false, "only clusters judged to be laptop farms")
	addOutputFlag(list, &output)

	var showOutput string
	show := &cobra.Command{
		Use:   "show ID",
		Short: "Members, shared fingerprints, claimed homes and their distance to where the cluster is",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(showOutput); err != nil {
				return err
			}
			var header metadata.MD
			cl, err := call(cmd, func(ctx context.Context, c pb.AdminServiceClient) (*pb.Cluster, error) {
				return c.GetCluster(ctx, &pb.GetClusterRequest{Id: args[0]}, grpc.Header(&header))
			})
			if err != nil {
				return err
			}
			attribution := geoAttribution(header)
			if showOutput == "json" {
				return printJSONAttributed(cmd.OutOrStdout(), cl, attribution)
			}
			w := cmd.OutOrStdout()
			verdict := "not a farm"
			if cl.GetFarm() {
				verdict = "LAPTOP FARM"
			}
			printf(w, "Cluster %s: %s\n  %s\n  observed at %s; alert %s; since %s\n\n", cl.GetId(), verdict, cl.GetReason(),
				orDash(cl.GetObservedPlace()), orDash(cl.GetAlertId()), ts(cl.GetCreatedAt()))
			tw := newTableFor(w, showOutput, "  DEVICE", "HOSTNAME", "HIRE", "NAME", "CLAIMED HOME", "KM TO OBSERVED PLACE", "JOINED").shrink("NAME", "CLAIMED HOME", "HOSTNAME")
			for _, m := range cl.GetMembers() {
				km := "-"
				if m.GetDistanceKm() >= 0 {
					km = fmt.Sprintf("%.0f", m.GetDistanceKm())
				}
				row(tw, "  "+m.GetDeviceId(), orDash(m.GetHostname()), m.GetHireId(), m.GetHireName(), m.GetClaimedHome(), km, when(m.GetJoinedAt()))
			}
			tw.Flush()
			fmt.Fprintln(w)
			tw = newTableFor(w, showOutput, "  SHARED", "VALUE", "STRENGTH", "DEVICES").shrink("DEVICES", "VALUE")
			for _, f := range cl.GetFingerprints() {
				row(tw, "  "+strings.ReplaceAll(f.GetKind(), "_", " "), f.GetValue(), f.GetStrength(), strings.Join(f.GetDeviceIds(), ", "))
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			if attribution != "" {
				fmt.Fprintln(w)
			}
			return geoWriteAttribution(w, attribution)
		},
	}
	addOutputFlag(show, &showOutput)
	cmd.AddCommand(list, show)
	return cmd
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
