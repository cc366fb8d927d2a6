package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/farmwatch/farmwatch/collector/applicants"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

func newApplicantsCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "applicants", Short: "Applicants before the offer: import them from the applicant-tracking system and screen them"}
	cmd.AddCommand(newApplicantsImportCmd(), newApplicantsListCmd(), newApplicantsShowCmd())
	return cmd
}

// applicantChunk is how many applicants one message of an import carries:
// a few hundred KB even with résumé text, far under the message limit.
const applicantChunk = 500

// importTimeout is the least time an import is given: the collector screens
// every imported applicant before it answers.
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

The file is read twice and never held in memory. The first pass checks every
row; if any is wrong, every bad row is printed as FILE:LINE: FIELD: WHY and
nothing is sent. The second pass streams the rows to the collector, which
normalises and checks them again and stores all of them or none. Without
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
			rows, err := checkApplicantFile(cmd.ErrOrStderr(), path, f)
			if err != nil {
				return err
			}
			resp, err := sendApplicants(cmd, path, f, update)
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

// checkApplicantFile reads the whole file once, printing every bad row in
// file order; it returns the number of rows, or an error when any row is
// bad. Rows are normalised a batch at a time on every core.
func checkApplicantFile(stderr io.Writer, path string, f applicants.Format) (int, error) {
	rows, bad := 0, 0
	type row struct {
		a    *pb.Applicant
		line int
		err  *applicants.RowError
	}
	batch := make([]row, 0, checkBatch)
	check := func() {
		workers := runtime.GOMAXPROCS(0)
		var wg sync.WaitGroup
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := w; i < len(batch); i += workers {
					if r := &batch[i]; r.err == nil {
						if errs := applicants.Normalize(r.a); len(errs) > 0 {
							r.err = &applicants.RowError{Line: r.line, ID: r.a.GetId(), Errs: errs}
						}
					}
				}
			}()
		}
		wg.Wait()
		for _, r := range batch {
			if r.err != nil {
				bad++
				printf(stderr, "%s:%d: %s\n", path, r.err.Line, strings.TrimPrefix(r.err.Error(), fmt.Sprintf("line %d: ", r.err.Line)))
				continue
			}
			rows++
		}
		batch = batch[:0]
	}
	err := readApplicants(path, f, func(a *pb.Applicant, line int, rowErr *applicants.RowError) error {
		if batch = append(batch, row{a, line, rowErr}); len(batch) == checkBatch {
			check()
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	check()
	if bad > 0 {
		return 0, fmt.Errorf("%d bad row(s) in %s; nothing was imported", bad, path)
	}
	if rows == 0 {
		return 0, fmt.Errorf("%s: no applicants; nothing was imported", path)
	}
	return rows, nil
}

// checkBatch is how many rows the first pass holds at once.
const checkBatch = 1000

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

// sendApplicants streams the file to the collector in chunks.
func sendApplicants(cmd *cobra.Command, path string, f applicants.Format, update bool) (*pb.ImportApplicantsResponse, error) {
	client, closeFn, err := adminClient()
	if err != nil {
		return nil, err
	}
	defer closeFn()
	ctx, cancel := context.WithTimeout(cmd.Context(), max(conn.timeout, importTimeout))
	defer cancel()
	stream, err := client.ImportApplicants(ctx)
	if err != nil {
		return nil, plainStatus(err)
	}
	req := &pb.ImportApplicantsRequest{Update: update, Format: string(f)}
	sent := false
	flush := func() error {
		if err := stream.Send(req); err != nil {
			return errStopSending // the collector said why: CloseAndRecv returns it
		}
		sent = true
		req = &pb.ImportApplicantsRequest{}
		return nil
	}
	err = readApplicants(path, f, func(a *pb.Applicant, line int, rowErr *applicants.RowError) error {
		if rowErr != nil {
			return fmt.Errorf("%s:%d: the file changed while it was imported: %v", path, line, rowErr)
		}
		req.Applicants, req.Lines = append(req.Applicants, a), append(req.Lines, uint32(line))
		if len(req.Applicants) == applicantChunk {
			return flush()
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStopSending) {
		return nil, err // the stream is cancelled with ctx: nothing is stored
	}
	if err == nil && (len(req.Applicants) > 0 || !sent) {
		flush()
	}
	resp, err := stream.CloseAndRecv()
	if err != nil {
		return nil, plainStatus(err)
	}
	return resp, nil
}

var errStopSending = errors.New("the collector refused the import")

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
