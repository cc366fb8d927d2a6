package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/farmwatch/farmwatch/internal/cli"
	"github.com/farmwatch/farmwatch/internal/console"
)

// chromiumPaths are where Debian, Ubuntu and Chrome put a browser that can
// print a page to PDF headless.
var chromiumPaths = []string{"/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"}

func newReportCmd() *cobra.Command {
	var format, out string
	cmd := &cobra.Command{
		Use:   "report HIRE [--format html|pdf] [-o FILE]",
		Short: "Write a hire's case report: one self-contained HTML page (or PDF) to hand to HR or legal",
		Long: `Write the case report of a hire for an investigator: the hire, a map of the
claimed home, the shipping address and where the laptops are (and a farm's
homes converging on one place), the timeline, every alert's evidence with
its contributions, the verdicts and the audit lines about the hire, its
devices and its alerts.

--format html writes one self-contained page: inline style and map, no
script, no outside reference, so it opens offline and can be attached to a
case. --format pdf prints that page with a headless Chromium
(/usr/bin/chromium), which must be installed. The report is written to
standard output, or to FILE with -o.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "html" && format != "pdf" {
				return &cli.UsageError{Err: fmt.Errorf("--format %q: want html or pdf", format)}
			}
			if format == "pdf" && out == "" {
				return &cli.UsageError{Err: errors.New("--format pdf needs -o FILE")}
			}
			admin, closeAdmin, err := adminClient()
			if err != nil {
				return err
			}
			defer closeAdmin()
			// A report makes many calls: the timeout bounds the whole of it, at least a minute.
			ctx, cancel := context.WithTimeout(cmd.Context(), max(conn.timeout, time.Minute))
			defer cancel()
			var page bytes.Buffer
			if err := console.WriteReport(ctx, admin, args[0], time.Now(), &page); err != nil {
				return err
			}
			if format == "pdf" {
				return printPDF(cmd.Context(), page.Bytes(), out)
			}
			if out == "" {
				_, err := cmd.OutOrStdout().Write(page.Bytes())
				return err
			}
			if err := os.WriteFile(out, page.Bytes(), 0o600); err != nil {
				return fmt.Errorf("write the report: %w", err)
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "wrote the case report of %s to %s\n", args[0], out)
			return nil
		},
	}
	cmd.Flags().StringVar(&format, "format", "html", "html or pdf (pdf needs Chromium)")
	cmd.Flags().StringVarP(&out, "out", "o", "", "write the report to FILE (default standard output)")
	return cmd
}

// printPDF prints the page to a PDF with a headless Chromium.
func printPDF(ctx context.Context, page []byte, out string) error {
	browser := ""
	for _, p := range chromiumPaths {
		if _, err := os.Stat(p); err == nil {
			browser = p
			break
		}
	}
	if browser == "" {
		return errors.New("--format pdf prints with a headless Chromium, and none is installed (apt-get install chromium); or write --format html and print it from a browser")
	}
	dir, err := os.MkdirTemp("", "farmwatch-report")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	src := filepath.Join(dir, "report.html")
	if err := os.WriteFile(src, page, 0o600); err != nil {
		return err
	}
	abs, err := filepath.Abs(out)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	args := []string{"--headless", "--disable-gpu", "--no-pdf-header-footer", "--user-data-dir=" + filepath.Join(dir, "profile"), "--print-to-pdf=" + abs, "file://" + src}
	if os.Geteuid() == 0 {
		args = append([]string{"--no-sandbox"}, args...)
	}
	if msg, err := exec.CommandContext(ctx, browser, args...).CombinedOutput(); err != nil {
		return fmt.Errorf("print the report to PDF with %s: %w\n%s", browser, err, msg)
	}
	if fi, err := os.Stat(abs); err != nil || fi.Size() == 0 {
		return fmt.Errorf("%s wrote no PDF to %s", browser, abs)
	}
	return nil
}
