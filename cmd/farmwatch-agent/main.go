// Command farmwatch-agent runs on a newly issued laptop and reports the
// laptop-farm signals of DESIGN section 3 to the farmwatch collector.
package main

import (
	"fmt"
	"os"
	_ "time/tzdata" // Windows has no zoneinfo: embed it so offsets agree everywhere

	"github.com/spf13/cobra"

	"github.com/farmwatch/farmwatch/agent/collect"
	"github.com/farmwatch/farmwatch/internal/cli"
)

func main() {
	if code, ok := runUnderServiceManager(); ok {
		os.Exit(code) // started by the Windows service manager (service_windows.go)
	}
	err := newRoot().Execute()
	if err != nil {
		fmt.Fprintln(os.Stderr, "farmwatch-agent:", err)
	}
	os.Exit(cli.ExitCode(err)) // 2 for a usage error, 1 for a runtime one (internal/cli)
}

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:   "farmwatch-agent",
		Short: "Onboarding agent that reports laptop-farm signals to the farmwatch collector",
		Long: `farmwatch-agent reports network, remote-access, peripheral, locale and location
signals of this laptop to the company's farmwatch collector during onboarding.
Run "farmwatch-agent collect -o json" to see exactly what it sends.

Exit status: 0 success, 1 runtime error, 2 usage error (unknown command or
flag, wrong arguments, bad flag value, unknown collector name).`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       collect.Version,
	}
	root.AddCommand(newCollectCmd(), newEnrollCmd(), newRunCmd(), newServiceCmd())
	cli.Harden(root)
	return root
}
