// Package cli holds the exit-status policy both farmwatch binaries share, so
// that scripts can tell a mistyped command line from a collector that failed:
//
//	0  success
//	1  runtime error: cannot connect, not found, refused by the collector
//	2  usage error: unknown command or flag, wrong argument count, bad flag
//	   value, a value out of range, an unknown name
//
// A command reports a usage mistake of its own with Usagef; Harden makes
// cobra's own parsing and argument checks usage errors too.
package cli

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

// Exit statuses.
const (
	ExitOK      = 0
	ExitRuntime = 1
	ExitUsage   = 2
)

// UsageError is a mistake in the command line, not a failure of the work.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// Usagef returns a UsageError: exit status 2.
func Usagef(format string, args ...any) error {
	return &UsageError{Err: fmt.Errorf(format, args...)}
}

// ExitCode maps an error returned by a command to the process's exit status.
func ExitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	var u *UsageError
	if errors.As(err, &u) {
		return ExitUsage
	}
	// cobra checks required flags and flag groups after our hooks, with plain errors.
	if msg := err.Error(); strings.HasPrefix(msg, "required flag(s)") || strings.HasPrefix(msg, "if any flags in the group") {
		return ExitUsage
	}
	return ExitRuntime
}

// Harden makes every command under root strict: a flag that does not parse,
// an argument count a command does not take, or an unknown subcommand is a
// UsageError. Leaf commands without an Args check take no arguments (a stray
// argument is refused, not ignored); a group without a Run of its own prints
// its help when called bare and refuses an unknown subcommand. Call it once
// the tree is built.
func Harden(root *cobra.Command) {
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return &UsageError{Err: fmt.Errorf("%w\nSee '%s --help'.", err, c.CommandPath())}
	})
	root.SetHelpCommand(&cobra.Command{
		Use:   "help [command]",
		Short: "Help about any command",
		Args:  cobra.ArbitraryArgs,
		RunE: func(c *cobra.Command, args []string) error {
			target, rest, err := c.Root().Find(args)
			if err != nil || len(rest) > 0 {
				return &UsageError{Err: fmt.Errorf("unknown help topic %q\nRun '%s --help' for its commands.",
					strings.Join(args, " "), c.Root().CommandPath())}
			}
			return target.Help()
		},
	})
	var walk func(*cobra.Command)
	walk = func(c *cobra.Command) {
		switch {
		case c.HasSubCommands() && !c.Runnable():
			c.Args = unknownSubcommand
			c.RunE = func(c *cobra.Command, _ []string) error { return c.Help() }
		case c.HasSubCommands():
			c.Args = wrapArgs(c.Args)
		default:
			if c.Args == nil {
				c.Args = cobra.NoArgs
			}
			c.Args = wrapArgs(c.Args)
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}

func unknownSubcommand(c *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	msg := fmt.Sprintf("unknown command %q for %q", args[0], c.CommandPath())
	if c.SuggestionsMinimumDistance <= 0 {
		c.SuggestionsMinimumDistance = 2 // cobra's own default, which SuggestionsFor does not apply
	}
	if s := c.SuggestionsFor(args[0]); len(s) > 0 {
		msg += fmt.Sprintf(" (did you mean %s?)", strings.Join(s, ", "))
	}
	return &UsageError{Err: fmt.Errorf("%s\nRun '%s --help' for its commands.", msg, c.CommandPath())}
}

func wrapArgs(check cobra.PositionalArgs) cobra.PositionalArgs {
	if check == nil {
		return nil
	}
	return func(c *cobra.Command, args []string) error {
		if err := check(c, args); err != nil {
			return &UsageError{Err: fmt.Errorf("%w\nUsage: %s", err, c.UseLine())}
		}
		return nil
	}
}
