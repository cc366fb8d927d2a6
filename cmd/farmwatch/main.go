// Command farmwatch is the collector (`farmwatch serve`) and the CLI that
// security reviewers and IT use against a running collector.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

func main() {
	if err := newRoot().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "farmwatch:", err)
		os.Exit(1)
	}
}

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
FARMWATCH_CERT, FARMWATCH_KEY), which take precedence over it.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	addConnFlags(root)
	root.AddCommand(newServeCmd(), newHiresCmd(), newTokensCmd(), newDevicesCmd(), newAlertsCmd(), newClustersCmd(),
		newAuditCmd(), newModelCmd(), newAdminCmd(), newBackupCmd(), newGeoCmd(), newProfileCmd(), newStatusCmd())
	return root
}
