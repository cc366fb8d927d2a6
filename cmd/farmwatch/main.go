// Command farmwatch is the collector (`farmwatch serve`) and the CLI that
// security reviewers and IT use against a running collector.
//
// Exit statuses, for every command (the policy lives in internal/cli):
//
//	0  success
//	1  runtime error: cannot connect, not found, refused by the collector
//	2  usage error: unknown command or flag, wrong argument count, bad flag
//	   value or range, an unknown name
//
// A command reports its own usage mistakes with usagef (exit 2); any other
// error it returns exits 1. Output helpers are in output.go.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/farmwatch/farmwatch/internal/cli"
)

// version is set at build time (the Makefile's -X main.version).
var version = "dev"

func main() {
	err := newRoot().Execute()
	if err != nil {
		fmt.Fprintln(os.Stderr, "farmwatch:", err)
	}
	os.Exit(cli.ExitCode(err))
}

// usagef is a usage error of a command: exit status 2.
func usagef(format string, args ...any) error { return cli.Usagef(format, args...) }

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:   "farmwatch",
		Short: "Catch laptop farms during onboarding: the collector and the reviewers' CLI",
		Long: `farmwatch collects onboarding-laptop signals from farmwatch-agent, clusters devices
that share a network, scores the combined evidence and raises explainable alerts.

The CLI talks to a running collector over its admin API. On the collector host,
--data DIR is enough: the address and the operator's admin certificate are
found there. Elsewhere use a client profile (farmwatch profile --help), or give
--server, --ca, --cert and --key (env FARMWATCH_SERVER, FARMWATCH_CA,
FARMWATCH_CERT, FARMWATCH_KEY), which take precedence over it.

Exit status: 0 success, 1 runtime error (cannot connect, not found, refused by
the collector), 2 usage error (unknown command or flag, wrong arguments, bad
flag value).`,
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	addConnFlags(root)
	root.AddCommand(newServeCmd(), newHiresCmd(), newApplicantsCmd(), newTokensCmd(), newDevicesCmd(), newAlertsCmd(), newClustersCmd(), newReportCmd(),
		newAuditCmd(), newModelCmd(), newAdminCmd(), newBackupCmd(), newStoreCmd(), newGeoCmd(), newProfileCmd(), newStatusCmd(), newWebhooksCmd(), newConsoleCmd())
	cli.Harden(root)
	return root
}
