package main

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/farmwatch/farmwatch/collector/hires"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

func newHiresCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "hires", Short: "Hire records: who each laptop was issued to and what they claimed"}
	cmd.AddCommand(newHiresAddCmd(), newHiresImportCmd(), newHiresListCmd(), newHiresShowCmd(), newHiresUpdateCmd(), newHiresDeleteCmd())
	return cmd
}

func newHiresAddCmd() *cobra.Command {
	h := &pb.Hire{}
	var institutions []string
	var output string
	cmd := &cobra.Command{
		Use:   "add --id ID --name NAME --claimed-home \"CITY, REGION, COUNTRY\" [flags]",
		Short: "Add one hire",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			h.Institutions = institutions
			if err := hires.Resolve(h); err != nil {
				return err
			}
			resp, err := call(cmd, func(ctx context.Context, c pb.AdminServiceClient) (*pb.AddHiresResponse, error) {
				return c.AddHires(ctx, &pb.AddHiresRequest{Hires: []*pb.Hire{h}})
			})
			if err != nil {
				return err
			}
			return printHires(cmd, output, resp.GetHires())
		},
	}
	f := cmd.Flags()
	f.StringVar(&h.Id, "id", "", "hire id (e.g. the HR system's id)")
	f.StringVar(&h.Name, "name", "", "full name")
	f.StringVar(&h.Email, "email", "", "email")
	f.StringVar(&h.ClaimedHome, "claimed-home", "", `claimed home, "CITY, REGION, COUNTRY" or "LAT,LON"`)
	f.StringVar(&h.ShippingAddress, "shipping-address", "", "where the laptop was shipped")
	f.StringVar(&h.Phone, "phone", "", "phone number as given")
	f.StringSliceVar(&institutions, "institution", nil, "school or employer listed (repeatable)")
	f.StringVar(&h.StartDate, "start-date", "", "start date YYYY-MM-DD")
	f.StringVar(&h.EndDate, "end-date", "", "end of the onboarding period YYYY-MM-DD: the agent stops reporting after it")
	f.StringVar(&h.ApplicantId, "applicant-id", "", "the applicant this hire was (default: the one applicant with the hire's email, if exactly one)")
	addOutputFlag(cmd, &output)
	return cmd
}

// importChunk is how many hires one message of an import carries: a few
// hundred KB, far under the collector's message limit.
const importChunk = 1000

func newHiresImportCmd() *cobra.Command {
	var output string
	var update bool
	cmd := &cobra.Command{
		Use:   "import FILE.csv [--update]",
		Short: "Import hires from CSV (all rows or none)",
		Long: `Import hires from a CSV file with the header
  ` + strings.Join(hires.Columns, ",") + `
in any order (id, name and claimed_home are required; institutions are
separated by ';'). Other columns, as HR exports carry, are ignored with a
warning that names them. Every row is checked first; if any row is wrong,
every error of every row is printed as FILE:LINE: FIELD: WHY and nothing is
imported. Without --update an id that already exists fails the import; with
--update (a daily re-sync) existing hires take the file's values for the
columns it has, and each changed field is audited. Up to ` + fmt.Sprint(hires.MaxRows) + ` rows, sent
in chunks and stored in one transaction.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			f, err := os.Open(args[0])
			if err != nil {
				return err
			}
			defer f.Close()
			parsed := hires.ParseCSV(f)
			if len(parsed.Ignored) > 0 {
				printf(cmd.ErrOrStderr(), "warning: %s: ignoring column(s) %s\n", args[0], strings.Join(parsed.Ignored, ", "))
			}
			if len(parsed.Errors) > 0 {
				for _, e := range parsed.Errors {
					printf(cmd.ErrOrStderr(), "%s:%d: %v\n", args[0], e.Line, e.Err)
				}
				return fmt.Errorf("%d error(s) in %s; nothing was imported", len(parsed.Errors), args[0])
			}
			resp, err := callAtLeast(cmd, importTimeout, func(ctx context.Context, c pb.AdminServiceClient) (*pb.ImportHiresResponse, error) {
				stream, err := c.ImportHires(ctx)
				if err != nil {
					return nil, err
				}
				for i := 0; i < len(parsed.Hires); i += importChunk {
					req := &pb.ImportHiresRequest{Hires: parsed.Hires[i:min(i+importChunk, len(parsed.Hires))]}
					if i == 0 {
						req.Update, req.Columns = update, parsed.Columns
					}
					if err := stream.Send(req); err != nil {
						break // the collector said why: CloseAndRecv returns it
					}
				}
				return stream.CloseAndRecv()
			})
			if err != nil {
				return err
			}
			if output == "json" {
				return printJSON(cmd.OutOrStdout(), resp)
			}
			printf(cmd.OutOrStdout(), "imported %d hires from %s: %d added, %d updated, %d unchanged\n",
				resp.GetAdded()+resp.GetUpdated()+resp.GetUnchanged(), args[0], resp.GetAdded(), resp.GetUpdated(), resp.GetUnchanged())
			return nil
		},
	}
	cmd.Flags().BoolVar(&update, "update", false, "update hires that already exist (a re-sync) instead of failing")
	addOutputFlag(cmd, &output)
	return cmd
}

func newHiresDeleteCmd() *cobra.Command {
	var note, output string
	cmd := &cobra.Command{
		Use:   "delete ID --note TEXT",
		Short: "Erase a hire and their devices, reports, alerts and tokens (an erasure request)",
		Long: `Erase a hire for an erasure request: the hire record, their devices with
every report, analysis state, cluster membership and alert, and their
enrollment tokens. Other alerts (a farm's) and earlier audit entries keep no
trace of the hire's personal data. The freed pages of the store file are
overwritten, so the bytes do not stay on disk. One audit line remains: the
hire id, who, when, the counts of what was erased, and the note.
Backups taken before still hold the hire: erase them by their own schedule.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			if strings.TrimSpace(note) == "" {
				return fmt.Errorf("--note is required: name the erasure request, for the audit trail")
			}
			resp, err := call(cmd, func(ctx context.Context, c pb.AdminServiceClient) (*pb.DeleteHireResponse, error) {
				return c.DeleteHire(ctx, &pb.DeleteHireRequest{Id: args[0], Note: note})
			})
			if err != nil {
				return err
			}
			if output == "json" {
				return printJSON(cmd.OutOrStdout(), resp)
			}
			printf(cmd.OutOrStdout(), "hire %s erased: %d devices, %d reports, %d alerts, %d tokens, %d cluster memberships\n",
				resp.GetHireId(), resp.GetDevices(), resp.GetReports(), resp.GetAlerts(), resp.GetTokens(), resp.GetClusterMemberships())
			return nil
		},
	}
	cmd.Flags().StringVar(&note, "note", "", "the erasure request this answers (kept in the audit trail; required)")
	addOutputFlag(cmd, &output)
	return cmd
}

func newHiresListCmd() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List hires",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			resp, err := call(cmd, func(ctx context.Context, c pb.AdminServiceClient) (*pb.ListHiresResponse, error) {
				return c.ListHires(ctx, &pb.ListHiresRequest{})
			})
			if err != nil {
				return err
			}
			if output == "json" {
				return printJSON(cmd.OutOrStdout(), resp)
			}
			return printHires(cmd, output, resp.GetHires())
		},
	}
	addOutputFlag(cmd, &output)
	return cmd
}

func printHires(cmd *cobra.Command, output string, list []*pb.Hire) error {
	if output == "json" {
		return printJSON(cmd.OutOrStdout(), &pb.ListHiresResponse{Hires: list})
	}
	tw := newTableFor(cmd.OutOrStdout(), output, "ID", "NAME", "CLAIMED HOME", "TIME ZONE", "START").shrink("NAME", "CLAIMED HOME")
	for _, h := range list {
		row(tw, h.GetId(), h.GetName(), h.GetHome().GetPlace(), orDash(h.GetHome().GetTimeZone()), orDash(h.GetStartDate()))
	}
	return tw.Flush()
}

func newHiresShowCmd() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "show ID",
		Short: "Show one hire and their devices",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			h, err := getHire(cmd, args[0])
			if err != nil {
				return err
			}
			if output == "json" {
				return printJSON(cmd.OutOrStdout(), h)
			}
			devs, err := call(cmd, func(ctx context.Context, c pb.AdminServiceClient) (*pb.ListDevicesResponse, error) {
				return c.ListDevices(ctx, &pb.ListDevicesRequest{HireId: args[0]})
			})
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			printf(w, "Hire %s: %s <%s>\n", h.GetId(), h.GetName(), h.GetEmail())
			printf(w, "  claimed home:     %s (%.4f, %.4f, %s)\n", h.GetHome().GetPlace(),
				h.GetHome().GetLatitude(), h.GetHome().GetLongitude(), h.GetHome().GetTimeZone())
			printf(w, "  shipping address: %s\n", orDash(h.GetShippingAddress()))
			printf(w, "  phone:            %s\n", orDash(h.GetPhone()))
			printf(w, "  institutions:     %s\n", orDash(strings.Join(h.GetInstitutions(), "; ")))
			printf(w, "  start date:       %s\n", orDash(h.GetStartDate()))
			printf(w, "  end date:         %s\n", orDash(h.GetEndDate()))
			printf(w, "  applicant:        %s\n", orDash(h.GetApplicantId()))
			printf(w, "  devices:          %d\n", len(devs.GetDevices()))
			// The device half and the applicant half side by side: what the
			// laptops show after the offer, and what the application showed before.
			for _, d := range devs.GetDevices() {
				printf(w, "    %s  %s  last seen %s from %s\n", d.GetId(), d.GetHostname(), ts(d.GetLastSeen()), orDash(d.GetLastPublicIp()))
				detail, err := call(cmd, func(ctx context.Context, c pb.AdminServiceClient) (*pb.DeviceDetail, error) {
					return c.GetDevice(ctx, &pb.GetDeviceRequest{Id: d.GetId()})
				})
				if err != nil {
					return err
				}
				printf(w, "  Device evidence of %s (log-odds added to the prior now, and at most):\n", d.GetId())
				if len(detail.GetEvidence()) == 0 {
					printf(w, "    none\n")
				}
				printEvidence(w, detail.GetEvidence())
			}
			if h.GetApplicantId() == "" {
				printf(w, "  Applicant evidence: no applicant linked (hires update %s --applicant-id ID links one)\n", h.GetId())
				return nil
			}
			ap, err := getApplicant(cmd, h.GetApplicantId())
			if err != nil {
				return err
			}
			printf(w, "  Applicant evidence of %s: screening score %.2f", h.GetApplicantId(), ap.GetScore())
			if al := ap.GetAlert(); al != nil {
				printf(w, ", alert %s (%s)", al.GetId(), al.GetStatus())
			}
			printf(w, "; related: %s\n", orDash(strings.Join(ap.GetRelated(), ", ")))
			if len(ap.GetEvidence()) == 0 {
				printf(w, "    none\n")
			}
			printEvidence(w, ap.GetEvidence())
			return nil
		},
	}
	addOutputFlag(cmd, &output)
	return cmd
}

// getHire reads one hire through the admin API.
func getHire(cmd *cobra.Command, id string) (*pb.Hire, error) {
	return call(cmd, func(ctx context.Context, c pb.AdminServiceClient) (*pb.Hire, error) {
		return c.GetHire(ctx, &pb.GetHireRequest{Id: id})
	})
}

func newHiresUpdateCmd() *cobra.Command {
	var home, shipping, phone, endDate, applicant, note, output string
	cmd := &cobra.Command{
		Use:   "update ID [--claimed-home PLACE] [--shipping-address TEXT] [--phone TEXT] [--end-date DATE] [--applicant-id ID] --note TEXT",
		Short: "Update a hire's claims, e.g. a declared move; later reports are judged against them",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			if strings.TrimSpace(note) == "" {
				return fmt.Errorf("--note is required: say why, for the audit trail")
			}
			h, err := getHire(cmd, args[0])
			if err != nil {
				return err
			}
			if home != "" {
				h.ClaimedHome = home
			}
			if cmd.Flags().Changed("shipping-address") {
				h.ShippingAddress = shipping
			}
			if cmd.Flags().Changed("phone") {
				h.Phone = phone
			}
			if cmd.Flags().Changed("end-date") {
				h.EndDate = endDate
			}
			if cmd.Flags().Changed("applicant-id") {
				h.ApplicantId = applicant
			}
			if err := hires.Resolve(h); err != nil {
				return err
			}
			h, err = call(cmd, func(ctx context.Context, c pb.AdminServiceClient) (*pb.Hire, error) {
				return c.UpdateHire(ctx, &pb.UpdateHireRequest{Hire: h, Note: note})
			})
			if err != nil {
				return err
			}
			return printHires(cmd, output, []*pb.Hire{h})
		},
	}
	cmd.Flags().StringVar(&home, "claimed-home", "", `new claimed home, "CITY, REGION, COUNTRY" or "LAT,LON"`)
	cmd.Flags().StringVar(&shipping, "shipping-address", "", "new shipping address")
	cmd.Flags().StringVar(&phone, "phone", "", "new phone number")
	cmd.Flags().StringVar(&endDate, "end-date", "", "new end of the onboarding period YYYY-MM-DD")
	cmd.Flags().StringVar(&applicant, "applicant-id", "", "link the hire to the applicant they were")
	cmd.Flags().StringVar(&note, "note", "", "why (kept in the audit trail; required)")
	addOutputFlag(cmd, &output)
	return cmd
}
