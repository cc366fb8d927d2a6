package main

import (
	"bufio"
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/encoding/protojson"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
	"github.com/farmwatch/farmwatch/sim"
)

// newApplicantsCmd writes the load tests' applicant population as a JSON
// lines file for `farmwatch applicants import`, streaming it.
func newApplicantsCmd() *cobra.Command {
	var count int
	var out string
	cmd := &cobra.Command{
		Use:   "applicants --count N --out FILE.jsonl",
		Short: "Write N generated applicants (with a ring of four after every 100th) as JSON lines",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if count <= 0 {
				return fmt.Errorf("--count %d: want at least 1", count)
			}
			if out == "" {
				return fmt.Errorf("--out: name the file to write")
			}
			f, err := os.Create(out)
			if err != nil {
				return err
			}
			w := bufio.NewWriterSize(f, 1<<20)
			err = sim.EachApplicant(count, func(a *pb.Applicant) error {
				line, err := protojson.Marshal(a)
				if err != nil {
					return err
				}
				w.Write(line)
				return w.WriteByte('\n')
			})
			if err == nil {
				err = w.Flush()
			}
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return fmt.Errorf("write %s: %w", out, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %d applicants to %s\n", count, out)
			return nil
		},
	}
	cmd.Flags().IntVar(&count, "count", 100000, "how many applicants")
	cmd.Flags().StringVar(&out, "out", "", "the JSON lines file to write")
	return cmd
}
