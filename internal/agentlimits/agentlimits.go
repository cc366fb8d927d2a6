// Package agentlimits holds the limits an honest agent keeps and the
// collector relies on when it checks what a laptop claims: kept in one
// place so that the two sides cannot drift apart.
package agentlimits

import "time"

const (
	// SpoolReports is the most reports an agent's spool holds, its default
	// and the largest spool_max_reports it accepts: past it the oldest are
	// dropped.
	SpoolReports = 10_000

	// MinReportInterval is the shortest report interval an agent accepts.
	// It reports every interval less its 10% jitter, and once at each start
	// (the service managers restart it at most once a minute).
	MinReportInterval = 10 * time.Second
)
