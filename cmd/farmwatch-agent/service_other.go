//go:build !windows

package main

import (
	"fmt"
	"runtime"

	"github.com/spf13/cobra"
)

// newServiceCmd: on Linux the packages install a systemd unit and on macOS a
// launchd daemon, so the service command exists on Windows only. It is
// registered hidden so a Windows runbook run elsewhere gets a clear answer.
func newServiceCmd() *cobra.Command {
	return &cobra.Command{
		Use:    "service install|uninstall|start|stop",
		Short:  "Manage the Windows service (Windows only)",
		Hidden: true,
		Args:   cobra.ArbitraryArgs, // every use gets the answer below, not a usage error
		RunE: func(*cobra.Command, []string) error {
			return fmt.Errorf("the service command is for Windows; on %s the package installs the service (systemd on Linux, launchd on macOS)", runtime.GOOS)
		},
	}
}

func runUnderServiceManager() (exitCode int, ok bool) { return 0, false }
