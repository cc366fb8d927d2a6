package cli

import (
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/spf13/cobra"
)

func TestExitCode(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want int
	}{
		{nil, ExitOK},
		{errors.New("unavailable: connection refused"), ExitRuntime},
		{Usagef("--output %q: want table or json", "yaml"), ExitUsage},
		{fmt.Errorf("collect: %w", Usagef("--only %q", "bogus")), ExitUsage}, // wrapped stays a usage error
		{errors.New(`required flag(s) "hire" not set`), ExitUsage},
	} {
		if got := ExitCode(tt.err); got != tt.want {
			t.Errorf("ExitCode(%v) = %d, want %d", tt.err, got, tt.want)
		}
	}
}

// TestHarden runs a small tree: unknown subcommands, stray arguments and bad
// flags are usage errors; a bare group prints its help.
func TestHarden(t *testing.T) {
	build := func() *cobra.Command {
		root := &cobra.Command{Use: "tool", SilenceErrors: true, SilenceUsage: true}
		group := &cobra.Command{Use: "alerts"}
		var n int
		list := &cobra.Command{Use: "list", RunE: func(*cobra.Command, []string) error { return nil }}
		list.Flags().IntVar(&n, "limit", 0, "")
		show := &cobra.Command{Use: "show ID", Args: cobra.ExactArgs(1), RunE: func(*cobra.Command, []string) error { return nil }}
		group.AddCommand(list, show)
		root.AddCommand(group)
		Harden(root)
		return root
	}
	for _, tt := range []struct {
		args []string
		want int
	}{
		{[]string{"alerts", "list"}, ExitOK},
		{[]string{"alerts"}, ExitOK},
		{[]string{"alerts", "show", "A-1"}, ExitOK},
		{[]string{"alerts", "lst"}, ExitUsage},
		{[]string{"alrets"}, ExitUsage},
		{[]string{"alerts", "list", "stray"}, ExitUsage},
		{[]string{"alerts", "list", "--limit", "many"}, ExitUsage},
		{[]string{"alerts", "list", "--bogus"}, ExitUsage},
		{[]string{"alerts", "show"}, ExitUsage},
		{[]string{"help", "alerts"}, ExitOK},
		{[]string{"help", "alerts", "lst"}, ExitUsage},
		{[]string{"help", "bogus"}, ExitUsage},
	} {
		root := build()
		root.SetArgs(tt.args)
		root.SetOut(io.Discard)
		if got := ExitCode(root.Execute()); got != tt.want {
			t.Errorf("%v: exit %d, want %d", tt.args, got, tt.want)
		}
	}
}
