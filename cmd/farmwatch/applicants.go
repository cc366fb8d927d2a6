package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/farmwatch/farmwatch/collector/applicants"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

func newApplicantsCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "applicants", Short: "Applicants before the offer: import them from the applicant-tracking system and screen them"}
	cmd.AddCommand(newApplicantsImportCmd(), newApplicantsListCmd(), newApplicantsShowCmd(), newApplicantsDeleteCmd())
	return cmd
}

// applicantChunk is how many applicants one message of an import carries:
// a few hundred KB even with résumé text, far under the message limit.
const applicantChunk = 500

// importTimeout is the least time an import (of hires or applicants) is
// given, whatever --timeout says: the collector stores, and for applicants
// screens, every row before it answers.
const importTimeout = 30 * time.Minute

// formatOf picks an import's format from its file name.
func formatOf(path string) (applicants.Format, error) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".csv":
		return applicants.FormatCSV, nil
	case ".jsonl", ".ndjson":
		return applicants.FormatJSONL, nil
	case ".json":
		return applicants.FormatGreenhouse, nil
	}
	return "", usagef("%s: cannot tell the format from the name: give --format csv, jsonl or greenhouse", path)
}

func newApplicantsImportCmd() *cobra.Command {
	var output, format string
	var update bool
	cmd := &cobra.Command{
		Use:   "import FILE [--format csv|jsonl|greenhouse] [--update]",
		Short: "Import applicants (all rows or none) and screen them",
		Long: `Import applicants from an applicant-tracking export: CSV, JSON lines, or a
Greenhouse Harvest candidates export (docs/APPLICANTS.md, "Importing
applicants", describes each). The format comes from the file name (.csv,
.jsonl or .ndjson, .json for Greenhouse) unless --format names it.

The file is read once, a row at a time, and streamed to the collector, which
normalises and checks every row and stores all of them or none: if any row is
wrong, every bad row is printed as FILE:LINE: FIELD: WHY (the first 1,000,
and how many more) and nothing is stored. Without
--update an id already stored fails the import; with --update the stored
applicant is replaced by the file's row. The collector then screens the
imported applicants and those tied to them, and opens applicant alerts in the
reviewers' queue (farmwatch alerts list).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			path := args[0]
			f := applicants.Format(format)
			switch f {
			case "":
				var err error
				if f, err = formatOf(path); err != nil {
					return err
				}
			case applicants.FormatCSV, applicants.FormatJSONL, applicants.FormatGreenhouse:
			default:
				return usagef("--format %q: want csv, jsonl or greenhouse", format)
			}
			resp, rows, err := sendApplicants(cmd, path, f, update)
			if err != nil {
				return err
			}
			if output == "json" {
				return printJSON(cmd.OutOrStdout(), resp)
			}
			printf(cmd.OutOrStdout(), "imported %d applicants from %s: %d added, %d updated, %d unchanged; %d screened, %d alert(s) opened or raised\n",
				rows, path, resp.GetAdded(), resp.GetUpdated(), resp.GetUnchanged(), resp.GetScreened(), resp.GetAlerts())
			return nil
		},
	}
	cmd.Flags().StringVar(&format, "format", "", "csv, jsonl or greenhouse (default: from the file name)")
	cmd.Flags().BoolVar(&update, "update", false, "replace applicants that already exist (a re-sync) instead of failing")
	addOutputFlag(cmd, &output)
	return cmd
}

func newApplicantsDeleteCmd() *cobra.Command {
	var output, note string
	cmd := &cobra.Command{
		Use:   "delete ID --note TEXT",
		Short: "Erase an applicant and their alerts (an erasure request)",
		Long: `Erase an applicant for an erasure request (one who was never hired, or who
asks to be forgotten): the applicant record and its alerts. The applicants
tied to them are screened again without them, so no other applicant's
evidence names them; other alerts and earlier audit entries keep no trace of
their name or id. A hire they became stays, with its link to the applicant
cleared. The freed pages of the store file are overwritten. One audit line
remains: the applicant id, who, when, the counts, and the note. Backups taken
before still hold the applicant: erase them by their own schedule.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			if strings.TrimSpace(note) == "" {
				return fmt.Errorf("--note is required: name the erasure request, for the audit trail")
			}
			resp, err := call(cmd, func(ctx context.Context, c pb.AdminServiceClient) (*pb.DeleteApplicantResponse, error) {
				return c.DeleteApplicant(ctx, &pb.DeleteApplicantRequest{Id: args[0], Note: note})
			})
			if err != nil {
				return err
			}
			if output == "json" {
				return printJSON(cmd.OutOrStdout(), resp)
			}
			printf(cmd.OutOrStdout(), "applicant %s erased: %d alerts; %d tied applicants screened again; %d alerts and %d audit entries scrubbed\n",
				resp.GetApplicantId(), resp.GetAlerts(), resp.GetRescreened(), resp.GetAlertsScrubbed(), resp.GetAuditEntriesRedacted())
			if h := resp.GetHireUnlinked(); h != "" {
				printf(cmd.OutOrStdout(), "hire %s kept, its link to the applicant cleared\n", h)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&note, "note", "", "the erasure request this answers (kept in the audit trail; required)")
	addOutputFlag(cmd, &output)
	return cmd
}

// readApplicants calls fn for every row of a file: an applicant, or the
// row's error.
func readApplicants(path string, f applicants.Format, fn func(*pb.Applicant, int, *applicants.RowError) error) error {
	file, err := os.Open(path)
	if err != nil {
		return err
	}
	defer file.Close()
	r, err := applicants.NewReader(file, f)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	// The collector normalises and checks every row: doing it here as well
	// would double the cost of an import for no error it does not name.
	r.SkipNormalize()
	for {
		a, line, err := r.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		var rowErr *applicants.RowError
		if errors.As(err, &rowErr) {
			if err := fn(nil, rowErr.Line, rowErr); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("%s:%d: %w", path, line, err)
		}
		if err := fn(a, line, nil); err != nil {
			return err
		}
	}
}

// sendApplicants streams the file to the collector in chunks, in one pass.
// A row the reader cannot read is printed and stops the sending (the
// collector stores nothing of an import it did not see end), but the file is
// read on so that every such row is named; the rows the collector refuses come
// back in its error and are printed the same way, FILE:LINE: FIELD: WHY.
func sendApplicants(cmd *cobra.Command, path string, f applicants.Format, update bool) (*pb.ImportApplicantsResponse, int, error) {
	stderr := cmd.ErrOrStderr()
	client, closeFn, err := adminClient()
	if err != nil {
		return nil, 0, err
	}
	defer closeFn()
	ctx, cancel := context.WithTimeout(cmd.Context(), max(conn.timeout, importTimeout))
	defer cancel()
	stream, err := client.ImportApplicants(ctx)
	if err != nil {
		return nil, 0, plainStatus(err)
	}
	req := &pb.ImportApplicantsRequest{Update: update, Format: string(f)}
	rows, bad := 0, 0
	sending, sent := true, false
	flush := func() {
		if sending && stream.Send(req) != nil {
			sending = false // the collector said why: CloseAndRecv returns it
		}
		sent = true
		req = &pb.ImportApplicantsRequest{}
	}
	err = readApplicants(path, f, func(a *pb.Applicant, line int, rowErr *applicants.RowError) error {
		if rowErr != nil {
			bad++
			printf(stderr, "%s:%d: %s\n", path, line, strings.TrimPrefix(rowErr.Error(), fmt.Sprintf("line %d: ", line)))
			return nil
		}
		rows++
		if bad > 0 {
			return nil
		}
		req.Applicants, req.Lines = append(req.Applicants, a), append(req.Lines, uint32(line))
		if len(req.Applicants) == applicantChunk {
			flush()
		}
		return nil
	})
	switch {
	case err != nil:
		return nil, 0, err // the stream is cancelled with ctx: nothing is stored
	case bad > 0:
		return nil, 0, fmt.Errorf("%d bad row(s) in %s; nothing was imported", bad, path)
	case rows == 0:
		return nil, 0, fmt.Errorf("%s: no applicants; nothing was imported", path)
	}
	if len(req.Applicants) > 0 || !sent {
		flush()
	}
	resp, err := stream.CloseAndRecv()
	if st, ok := status.FromError(err); ok && st.Code() == codes.InvalidArgument {
		if n := printRefusedRows(stderr, path, st.Message()); n > 0 {
			return nil, 0, fmt.Errorf("%d bad row(s) in %s; nothing was imported", n, path)
		}
	}
	if err != nil {
		return nil, 0, plainStatus(err)
	}
	return resp, rows, nil
}

// refusedRows reads the collector's refusal of an import: "N bad row(s); ...",
// then one "line L: FIELD: WHY" a row.
var refusedRows = regexp.MustCompile(`^(\d+) bad row\(s\)`)

// printRefusedRows prints the rows a refusal names as FILE:LINE: ..., like
// the rows the reader refuses, and returns how many rows were bad (0 when
// the refusal is not about rows).
func printRefusedRows(w io.Writer, path, msg string) int {
	lines := strings.Split(msg, "\n")
	m := refusedRows.FindStringSubmatch(lines[0])
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(m[1])
	for _, l := range lines[1:] {
		if rest, ok := strings.CutPrefix(l, "line "); ok {
			if num, why, ok := strings.Cut(rest, ": "); ok {
				printf(w, "%s:%s: %s\n", path, num, why)
				continue
			}
		}
		printf(w, "%s\n", strings.TrimPrefix(l, "... "))
	}
	return n
}

func newApplicantsListCmd() *cobra.Command {
	var output string
	var minScore float64
	cmd := &cobra.Command{
		Use:   "list [--min-score S]",
		Short: "List applicants, highest alert score first",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			if err := checkScore("--min-score", minScore); err != nil {
				return err
			}
			resp, err := call(cmd, func(ctx context.Context, c pb.AdminServiceClient) (*pb.ListApplicantsResponse, error) {
				return c.ListApplicants(ctx, &pb.ListApplicantsRequest{MinScore: minScore})
			})
			if err != nil {
				return err
			}
			if output == "json" {
				return printJSON(cmd.OutOrStdout(), resp)
			}
			tw := newTableFor(cmd.OutOrStdout(), output, "ID", "NAME", "ROLE", "CLAIMED PLACE", "SCORE", "ALERT", "HIRE", "APPLIED").
				shrink("NAME", "ROLE", "CLAIMED PLACE")
			for _, a := range resp.GetApplicants() {
				score := "-"
				if a.GetAlertId() != "" {
					score = fmt.Sprintf("%.2f", a.GetScore())
				}
				row(tw, a.GetId(), a.GetName(), orDash(a.GetRole()), orDash(a.GetClaimedPlace()), score, orDash(a.GetAlertId()),
					orDash(a.GetHireId()), day(a.GetAppliedAt().AsTime(), a.GetAppliedAt() != nil))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().Float64Var(&minScore, "min-score", 0, "only applicants whose unresolved alert scores at least this (0..1)")
	addOutputFlag(cmd, &output)
	return cmd
}

func day(t time.Time, ok bool) string {
	if !ok {
		return "-"
	}
	return t.UTC().Format("2006-01-02")
}

func newApplicantsShowCmd() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "show ID",
		Short: "Show one applicant, their screening evidence and the applicants tied to them",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			d, err := getApplicant(cmd, args[0])
			if err != nil {
				return err
			}
			if output == "json" {
				return printJSON(cmd.OutOrStdout(), d)
			}
			printApplicant(cmd.OutOrStdout(), d, output == "wide")
			return nil
		},
	}
	addOutputFlag(cmd, &output)
	return cmd
}

func getApplicant(cmd *cobra.Command, id string) (*pb.ApplicantDetail, error) {
	return call(cmd, func(ctx context.Context, c pb.AdminServiceClient) (*pb.ApplicantDetail, error) {
		return c.GetApplicant(ctx, &pb.GetApplicantRequest{Id: id})
	})
}

// printApplicant prints what a reviewer checks: the claims as written, what
// the collector read from them, the screening and the alert.
func printApplicant(w io.Writer, d *pb.ApplicantDetail, wide bool) {
	a := d.GetApplicant()
	printf(w, "Applicant %s: %s\n", a.GetId(), a.GetName())
	printf(w, "  role:             %s\n", orDash(a.GetRole()))
	printf(w, "  applied:          %s\n", day(a.GetAppliedAt().AsTime(), a.GetAppliedAt() != nil))
	printf(w, "  agency:           %s\n", orDash(a.GetAgency()))
	var emails []string
	for _, e := range a.GetEmailsNormalized() {
		s := e.GetRaw()
		if e.GetDisposable() {
			s += " (disposable domain)"
		}
		emails = append(emails, s)
	}
	printf(w, "  emails:           %s\n", orDash(strings.Join(emails, ", ")))
	var phones []string
	for _, p := range a.GetPhonesNormalized() {
		s := p.GetRaw()
		if p.GetE164() != "" {
			s += fmt.Sprintf(" (%s, %s %s, %s)", p.GetE164(), p.GetCountry(), orDash(p.GetRegion()), orDash(p.GetLineType()))
		}
		phones = append(phones, s)
	}
	printf(w, "  phones:           %s\n", orDash(strings.Join(phones, ", ")))
	printf(w, "  claimed address:  %s%s\n", orDash(a.GetClaimedAddress()), placeNote(a.GetClaimedPlace()))
	printf(w, "  shipping address: %s%s\n", orDash(a.GetShippingAddress()), placeNote(a.GetShippingPlace()))
	printf(w, "  submission IP:    %s\n", orDash(a.GetSubmissionIp()))
	printf(w, "  interview zone:   %s\n", orDash(a.GetInterviewTimeZone()))
	printf(w, "  hire:             %s\n", orDash(a.GetHireId()))
	if wide {
		for _, e := range a.GetWorkHistory() {
			printf(w, "  work:             %s, %s (%s to %s)\n", e.GetEmployer(), orDash(e.GetTitle()), orDash(e.GetStart()), orDash(e.GetEnd()))
		}
		for _, e := range a.GetEducation() {
			printf(w, "  education:        %s, %s (%s to %s)\n", e.GetInstitution(), orDash(e.GetDegree()), orDash(e.GetStart()), orDash(e.GetEnd()))
		}
		for _, u := range a.GetProfileUrls() {
			printf(w, "  profile:          %s\n", u)
		}
		for _, r := range a.GetReferences() {
			printf(w, "  reference:        %s\n", r)
		}
	} else {
		printf(w, "  history:          %d job(s), %d school(s), %d profile(s), %d reference(s) (-o wide lists them)\n",
			len(a.GetWorkHistory()), len(a.GetEducation()), len(a.GetProfileUrls()), len(a.GetReferences()))
	}
	if al := d.GetAlert(); al != nil {
		printf(w, "  alert:            %s (%s), score %.2f, peak %.2f", al.GetId(), al.GetStatus(), al.GetScore(), max(al.GetPeakScore(), al.GetScore()))
		if al.GetStatus() == "resolved" {
			printf(w, ", %s by %s", al.GetVerdict(), al.GetResolvedBy())
		}
		fmt.Fprintln(w)
	} else {
		printf(w, "  alert:            none\n")
	}
	printf(w, "  related:          %s\n", orDash(strings.Join(d.GetRelated(), ", ")))
	printf(w, "  Screening now: score %.2f. Evidence (log-odds added to the prior):\n", d.GetScore())
	if len(d.GetEvidence()) == 0 {
		printf(w, "    none\n")
	}
	printEvidence(w, d.GetEvidence())
}

func placeNote(h *pb.ClaimedHome) string {
	if h.GetPlace() == "" {
		return ""
	}
	return " (" + h.GetPlace() + ")"
}
